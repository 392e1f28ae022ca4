"""Compliant: besides the skeleton's workers, each region has an audit queue consumed one
message per batch (batch_size=1). Without ReportBatchItemFailures a failed message fails only
itself: a partial batch response would change nothing."""

import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

TIMEOUT_S = 30
service = baseline.build()
for region, deployment in service.regions.items():
    topic = deployment.alarm_topic
    dlq = baseline.dead_letter_queue(f"audit-{region}-dlq", region, topic)
    queue = aws.sqs.Queue(
        f"audit-{region}-queue",
        region=region,
        visibility_timeout_seconds=6 * TIMEOUT_S,
        message_retention_seconds=baseline.QUEUE_RETENTION_S,
        sqs_managed_sse_enabled=True,
    )
    aws.sqs.RedrivePolicy(
        f"audit-{region}-redrive",
        region=region,
        queue_url=queue.url,
        redrive_policy=pulumi.Output.json_dumps(
            {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 5}
        ),
    )
    consumer = baseline.lambda_function(
        f"audit-{region}-worker",
        region,
        timeout_s=TIMEOUT_S,
        statements=[
            baseline.statement(list(baseline.WORKER_QUEUE_ACTIONS), [queue.arn], "ConsumeAudit")
        ],
    )
    aws.lambda_.EventSourceMapping(
        f"audit-{region}-mapping",
        region=region,
        event_source_arn=queue.arn,
        function_name=consumer.function.arn,
        batch_size=1,
        scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=5),
        opts=pulumi.ResourceOptions(depends_on=[consumer.policy]),
    )
    baseline.queue_alarm(
        f"audit-{region}-oldest-message",
        region,
        queue,
        topic,
        metric="ApproximateAgeOfOldestMessage",
        threshold=600,
        evaluation_periods=5,
    )
