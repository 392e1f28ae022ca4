"""A web tier placed in the account's default VPC: the AMI, VPC, subnets, certificate and
account come from provider functions, as a program does when it builds on what already exists.

getInstanceType and ssm.getParameter have no hand-written offline answer: they show that any
pulumi-aws function is answered with a value of its declared type.
"""

import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
domain = config.require("domainName")

account = aws.get_caller_identity()
image = aws.ec2.get_ami(
    most_recent=True,
    owners=["amazon"],
    filters=[
        {"name": "name", "values": ["al2023-ami-2023.*-x86_64"]},
        {"name": "virtualization-type", "values": ["hvm"]},
    ],
)
network = aws.ec2.get_vpc(default=True)
subnets = aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": [network.id]}])
# The output form, with an argument that is itself an Output: answered the same way.
certificate = aws.acm.get_certificate_output(
    domain=pulumi.Output.from_input(domain), statuses=["ISSUED"], most_recent=True
)
size = aws.ec2.get_instance_type(instance_type=config.get("instanceType") or "t3.micro")
admin_cidr = aws.ssm.get_parameter_output(name="/platform/admin-cidr")

web = aws.ec2.SecurityGroup(
    "web",
    vpc_id=network.id,
    description="HTTPS from anywhere, SSH from the admin network",
    ingress=[
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]},
        {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": [admin_cidr.value]},
    ],
    egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [network.cidr_block]}],
)

servers = [
    aws.ec2.Instance(
        f"web-{index}",
        ami=image.id,
        instance_type=size.instance_type,
        subnet_id=subnet_id,
        vpc_security_group_ids=[web.id],
        tags={"Owner": account.account_id, "Image": image.name},
    )
    for index, subnet_id in enumerate(subnets.ids)
]

balancer = aws.lb.LoadBalancer(
    "web",
    load_balancer_type="application",
    subnets=subnets.ids,
    security_groups=[web.id],
)
aws.lb.Listener(
    "https",
    load_balancer_arn=balancer.arn,
    port=443,
    protocol="HTTPS",
    certificate_arn=certificate.arn,
    default_actions=[
        {
            "type": "fixed-response",
            "fixed_response": {"content_type": "text/plain", "status_code": "200"},
        }
    ],
)

pulumi.export("accountId", account.account_id)
pulumi.export("amiId", image.id)
pulumi.export("amiName", image.name)
pulumi.export("amiArchitecture", image.architecture)
pulumi.export("vpcId", network.id)
pulumi.export("vpcCidr", network.cidr_block)
pulumi.export("subnetIds", subnets.ids)
pulumi.export("certificateArn", certificate.arn)
pulumi.export("certificateStatus", certificate.status)
pulumi.export("instanceType", size.instance_type)
pulumi.export("vcpus", size.default_vcpus)
pulumi.export("servers", len(servers))
pulumi.export(
    "summary",
    certificate.domain.apply(lambda name: json.dumps({"domain": name, "servers": len(servers)})),
)
