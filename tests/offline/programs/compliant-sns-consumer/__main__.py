"""Compliant, with an SNS-invoked function: its asynchronous invocations retry twice, expire
after an hour and park what still fails in an alarmed queue."""

import sys
from pathlib import Path

import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region, deployment in service.regions.items():
    events = aws.sns.Topic(f"events-{region}", region=region)
    failed = baseline.failure_queue(f"events-{region}-failed", region, deployment.alarm_topic)
    consumer = baseline.lambda_function(
        f"events-{region}-consumer",
        region,
        timeout_s=30,
        statements=[baseline.statement(["sqs:SendMessage"], [failed.arn], "ParkFailedEvents")],
    )
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
    aws.lambda_.FunctionEventInvokeConfig(
        f"events-{region}-async",
        region=region,
        function_name=consumer.function.name,
        maximum_retry_attempts=2,
        maximum_event_age_in_seconds=3600,
        destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
            on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                destination=failed.arn
            )
        ),
    )
