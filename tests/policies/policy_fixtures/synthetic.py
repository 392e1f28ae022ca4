"""Large stacks for scaling checks: the active-active service plus many queue workers, each a
complete, compliant set (queue, DLQ, redrive, alarm, function with role and logs, mapping)."""

from __future__ import annotations

from .builder import JsonOf, StackBuilder
from .realistic import REGIONS, TAGS, active_active_stack, function

RESOURCES_PER_WORKER = 11


def add_worker(b: StackBuilder, index: int, region: str, *, faulty: bool = False) -> None:
    """One worker; a faulty one has a too-short visibility timeout and no DLQ alarm."""
    name = f"job{index:05d}-{region}"
    parent = b.named("tasks")
    dlq = b.add(
        "aws:sqs/queue:Queue",
        f"{name}-dlq",
        {"region": region, "messageRetentionSeconds": 1_209_600, "sqsManagedSseEnabled": True},
        parent=parent,
    )
    queue = b.add(
        "aws:sqs/queue:Queue",
        f"{name}-queue",
        {
            "region": region,
            "visibilityTimeoutSeconds": 60 if faulty else 181,
            "messageRetentionSeconds": 345_600,
            "sqsManagedSseEnabled": True,
            "tags": TAGS,
        },
        parent=parent,
    )
    b.add(
        "aws:sqs/redrivePolicy:RedrivePolicy",
        f"{name}-redrive",
        {
            "region": region,
            "queueUrl": queue.out("url"),
            "redrivePolicy": JsonOf({"deadLetterTargetArn": dlq.out("arn"), "maxReceiveCount": 5}),
        },
        parent=parent,
    )
    consumer = function(
        b,
        f"{name}-consumer",
        region,
        parent=parent,
        handler="job.handler",
        timeout=30,
        memory=256,
        environment={"QUEUE_URL": queue.out("url")},
        statements=[
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
                "Resource": [queue.out("arn")],
            }
        ],
    )
    b.add(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        f"{name}-mapping",
        {
            "region": region,
            "eventSourceArn": queue.out("arn"),
            "functionName": consumer.out("arn"),
            "maximumBatchingWindowInSeconds": 1,
            "functionResponseTypes": ["ReportBatchItemFailures"],
            "scalingConfig": {"maximumConcurrency": 5},
        },
        parent=parent,
    )
    if faulty:
        return
    b.add(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        f"{name}-dlq-depth",
        {
            "region": region,
            "namespace": "AWS/SQS",
            "metricName": "ApproximateNumberOfMessagesVisible",
            "dimensions": {"QueueName": dlq.out("name")},
            "threshold": 0,
            "comparisonOperator": "GreaterThanThreshold",
            "evaluationPeriods": 1,
            "period": 60,
            "statistic": "Maximum",
            "alarmActions": [b.named(f"tasks-{region}-alarms").out("arn")],
        },
        parent=parent,
    )


def synthetic_stack(total: int, faulty_every: int = 0) -> StackBuilder:
    """At least `total` resources: the service, then workers spread over its regions; every
    `faulty_every`-th worker (0: none) breaks two rules."""
    b = active_active_stack()
    index = 0
    while len(b.resources) < total:
        faulty = faulty_every > 0 and index % faulty_every == 0
        add_worker(b, index, REGIONS[index % len(REGIONS)], faulty=faulty)
        index += 1
    return b
