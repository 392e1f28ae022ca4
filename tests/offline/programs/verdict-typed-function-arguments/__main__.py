"""Provider functions called the way public programs call them: a boolean given as a string
(the provider reads "true" as true and answers a bool), and a plain policy document whose
statement names a topic created here (its ARN unknown in a new stack's preview: the engine
leaves the unknown out of the arguments and the provider renders the rest)."""

import json

import pulumi
import pulumi_aws as aws

alerts = aws.sns.Topic("alerts")

image = aws.ec2.get_ami(
    most_recent="true",
    owners=["amazon"],
    filters=[{"name": "name", "values": ["al2023-ami-2023.*-arm64"]}],
)
publish = aws.iam.get_policy_document(
    statements=[
        {
            "sid": "Publish",
            "actions": ["sns:Publish"],
            "resources": [alerts.arn],
            "principals": [{"type": "Service", "identifiers": ["events.amazonaws.com"]}],
        }
    ]
)
aws.sns.TopicPolicy("alerts-policy", arn=alerts.arn, policy=publish.json)

pulumi.export("mostRecent", image.most_recent)
pulumi.export("amiArchitecture", image.architecture)
pulumi.export("statement", json.loads(publish.json)["Statement"][0])
