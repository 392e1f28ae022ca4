"""A queue named with a random suffix, a zip of its consumer's code, and a component another
language implements (a multi-language package such as awsx): the kinds of program that use
provider SDKs besides pulumi-aws."""

import pulumi
import pulumi_archive as archive
import pulumi_aws as aws
import pulumi_random as random
from pulumi_acme import Cluster

suffix = random.RandomString("suffix", length=6, special=False, upper=False)
pet = random.RandomPet("pet", length=2)
bundle = archive.File(
    "consumer-code",
    type="zip",
    source_content="def handler(event, context):\n    return None\n",
    source_content_filename="handler.py",
    output_path="consumer.zip",
)
dlq = aws.sqs.Queue("orders-dlq", message_retention_seconds=1209600)
queue = aws.sqs.Queue(
    "orders",
    name=suffix.result.apply(lambda value: f"orders-{value}"),
    visibility_timeout_seconds=180,
    redrive_policy=dlq.arn.apply(
        lambda arn: pulumi.Output.json_dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
    ),
)
cluster = Cluster("jobs", size=3)

pulumi.export("suffix", suffix.result)
pulumi.export("pet", pet.id)
pulumi.export("codeSha", bundle.output_sha)
pulumi.export("queueName", queue.name)
pulumi.export("clusterEndpoint", cluster.endpoint)
pulumi.export("clusterEndpointKnown", cluster.endpoint.is_known())
