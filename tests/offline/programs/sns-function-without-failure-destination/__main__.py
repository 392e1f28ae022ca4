"""One defect: a function invoked by SNS (asynchronously) has no on-failure destination, so an
event that fails all of Lambda's retries is dropped without a trace."""

import sys
from pathlib import Path

import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region in service.regions:
    events = aws.sns.Topic(f"events-{region}", region=region)
    consumer = baseline.lambda_function(f"events-{region}-consumer", region, timeout_s=30)
    aws.lambda_.Permission(
        f"events-{region}-invoke",
        region=region,
        action="lambda:InvokeFunction",
        function=consumer.function.name,
        principal="sns.amazonaws.com",
        source_arn=events.arn,
    )
    aws.sns.TopicSubscription(
        f"events-{region}-subscription",
        region=region,
        topic=events.arn,
        protocol="lambda",
        endpoint=consumer.function.arn,
    )
    # The defect: no aws.lambda_.FunctionEventInvokeConfig with an on-failure destination.
