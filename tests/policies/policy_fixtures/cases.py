"""What a fixture case is: a stack, how it is rendered, its config and the exact verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .builder import ENGINE_PREVIEW, INPUTS, OUTPUTS_ONLY, UPDATE, Resource, StackBuilder
from .realistic import TAGS, function


@dataclass(frozen=True)
class Expect:
    """One expected diagnostic: on the resource named `resource` ("" for the whole stack),
    whose message contains every string of `contains`, at `level` (None: the policy's default
    level; an exempted finding is reported at "advisory" whatever the policy's level)."""

    resource: str
    contains: tuple[str, ...]
    type: str | None = None
    level: str | None = None

    def urn(self, stack: StackBuilder) -> str:
        if not self.resource:
            return ""
        matches = [
            resource
            for resource in stack.resources
            if resource.name == self.resource and (self.type is None or resource.type == self.type)
        ]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} fixture resources match {self}")
        return matches[0].urn


@dataclass(frozen=True)
class Case:
    build: Callable[[], StackBuilder]
    expected: tuple[Expect, ...] = ()
    #: The builder's preview shape (inputs, with unknowns) rather than its known one.
    preview: bool = False
    #: This policy's settings for the case (enforcement level stays the default).
    config: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    #: One of the engine's shapes (builder.ENGINE_PREVIEW, builder.OUTPUTS_ONLY); None: the
    #: builder's own, chosen by `preview`.
    engine_shape: str | None = None

    @property
    def shape(self) -> str:
        if self.engine_shape is not None:
            return self.engine_shape
        return INPUTS if self.preview else UPDATE

    def reshaped(self, shape: str) -> Case:
        """The same stack, configuration and verdict, sent in another of the engine's shapes."""
        if shape not in (ENGINE_PREVIEW, OUTPUTS_ONLY):
            raise ValueError(f"{shape!r} is not one of the engine's shapes")
        return replace(self, preview=False, engine_shape=shape)


def stream_consumer(
    b: StackBuilder, region: str, source: Resource, mapping_inputs: dict[str, Any]
) -> Resource:
    """An audit function reading `source`'s stream (a table's, or a Kinesis stream)."""
    worker = b.named(f"tasks-{region}-worker")
    audit = function(
        b,
        f"tasks-{region}-audit",
        region,
        parent=worker,
        handler="task_audit.handler",
        timeout=60,
        memory=256,
        environment={"POWERTOOLS_SERVICE_NAME": "tasks-audit"},
        statements=[],
    )
    stream_output = "streamArn" if source.type == "aws:dynamodb/table:Table" else "arn"
    return b.add(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        f"tasks-{region}-audit-mapping",
        {
            "region": region,
            "eventSourceArn": source.out(stream_output),
            "functionName": audit.out("arn"),
            "startingPosition": "LATEST",
            "batchSize": 100,
            "functionResponseTypes": ["ReportBatchItemFailures"],
            **mapping_inputs,
        },
        parent=worker,
    )


def audit_queue(b: StackBuilder, region: str) -> Resource:
    """A queue that keeps what a stream consumer or an async invocation failed on, with the
    depth alarm every such queue needs."""
    worker = b.named(f"tasks-{region}-worker")
    queue = b.add(
        "aws:sqs/queue:Queue",
        f"tasks-{region}-audit-failures",
        {
            "region": region,
            "messageRetentionSeconds": 1_209_600,
            "sqsManagedSseEnabled": True,
            "tags": TAGS,
        },
        parent=worker,
    )
    b.add(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        f"tasks-{region}-audit-failures-depth",
        {
            "region": region,
            "namespace": "AWS/SQS",
            "metricName": "ApproximateNumberOfMessagesVisible",
            "dimensions": {"QueueName": queue.out("name")},
            "statistic": "Maximum",
            "period": 60,
            "evaluationPeriods": 1,
            "threshold": 0,
            "comparisonOperator": "GreaterThanThreshold",
            "alarmActions": [b.named(f"tasks-{region}-alarms").out("arn")],
        },
        parent=worker,
    )
    return queue
