"""One defect: a Kinesis consumer that survives poison records (bisect, bounded retries and
record age, an alarmed on-failure queue) but whose iterator age nobody watches, so a failing or
slow consumer falls behind unnoticed until its records are skipped or expire."""

import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region, deployment in service.regions.items():
    stream = baseline.kinesis_stream(f"events-{region}", region)
    skipped = baseline.failure_queue(f"events-{region}-skipped", region, deployment.alarm_topic)
    consumer = baseline.lambda_function(
        f"events-{region}-consumer",
        region,
        timeout_s=30,
        statements=[
            baseline.statement(baseline.KINESIS_CONSUMER_ACTIONS, [stream.arn], "ReadStream"),
            baseline.statement(["sqs:SendMessage"], [skipped.arn], "ParkSkippedRecords"),
        ],
    )
    aws.lambda_.EventSourceMapping(
        f"events-{region}-mapping",
        region=region,
        event_source_arn=stream.arn,
        function_name=consumer.function.arn,
        starting_position="TRIM_HORIZON",
        batch_size=100,
        function_response_types=["ReportBatchItemFailures"],
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=3,
        maximum_record_age_in_seconds=3600,
        destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
            on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                destination_arn=skipped.arn
            )
        ),
        opts=pulumi.ResourceOptions(depends_on=[consumer.policy]),
    )
    # The defect: no alarm on IteratorAge (or GetRecords.IteratorAgeMilliseconds).
