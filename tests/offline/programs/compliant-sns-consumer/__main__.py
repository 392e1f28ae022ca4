"""Compliant, with an SNS-invoked function: its asynchronous invocations retry twice, expire
after an hour and park what still fails in an alarmed queue."""

import sys
from pathlib import Path

import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region, deployment in service.regions.items():
    failed = baseline.failure_queue(f"events-{region}-failed", region, deployment.alarm_topic)
    consumer = baseline.sns_subscribed_function(
        f"events-{region}",
        region,
        statements=[baseline.statement(["sqs:SendMessage"], [failed.arn], "ParkFailedEvents")],
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
