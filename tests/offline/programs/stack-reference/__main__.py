"""An application stack that builds on another stack's outputs: the network stack owns the VPC,
its private subnets and the internal DNS zone, this one only reads them.

`require_output` for what the stack cannot do without, `get_output` for an optional value, an
`apply` over a list output, and exports of each.
"""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
network = pulumi.StackReference(config.require("networkStack"))

vpc_id = network.require_output("vpcId")
private_subnets = network.get_output("privateSubnetIds")
# Optional: older network stacks do not export it.
flow_log_bucket = network.get_output("flowLogBucket")

app = aws.ec2.SecurityGroup(
    "app",
    vpc_id=vpc_id,
    description="Application tier, reachable from inside the VPC only",
    ingress=[{"protocol": "tcp", "from_port": 8080, "to_port": 8080, "self": True}],
)

aws.ssm.Parameter(
    "app-subnets",
    type="StringList",
    insecure_value=private_subnets.apply(lambda ids: ",".join(ids)),
)

pulumi.export("vpcId", vpc_id)
pulumi.export("subnetCount", private_subnets.apply(len))
pulumi.export("firstSubnet", private_subnets.apply(lambda ids: ids[0]))
pulumi.export("flowLogBucket", flow_log_bucket)
pulumi.export("securityGroupVpc", app.vpc_id)
