"""One defect: a Kinesis consumer's mapping neither bisects a failing batch nor sends what it
skips to an on-failure destination, so one poison record blocks its shard until it expires."""

import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region, deployment in service.regions.items():
    stream = baseline.kinesis_stream(f"events-{region}", region)
    consumer = baseline.lambda_function(
        f"events-{region}-consumer",
        region,
        timeout_s=30,
        statements=[
            baseline.statement(baseline.KINESIS_CONSUMER_ACTIONS, [stream.arn], "ReadStream")
        ],
    )
    aws.lambda_.EventSourceMapping(
        f"events-{region}-mapping",
        region=region,
        event_source_arn=stream.arn,
        function_name=consumer.function.arn,
        starting_position="LATEST",
        batch_size=100,
        function_response_types=["ReportBatchItemFailures"],
        maximum_retry_attempts=3,
        maximum_record_age_in_seconds=3600,
        # The defect: no bisect_batch_on_function_error, no destination_config.
        opts=pulumi.ResourceOptions(depends_on=[consumer.policy]),
    )
    baseline.iterator_age_alarm(
        f"events-{region}-iterator-age", region, deployment.alarm_topic, function=consumer.function
    )
