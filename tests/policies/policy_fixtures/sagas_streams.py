"""The booking saga and the booking-events stream consumer as the engine reports them: a
resource-for-resource copy of what the `Saga` and `StreamConsumer` components register, added to
the active-active service only by `with_sagas_and_streams()`, so every other rule's fixtures keep
their stacks unchanged.

The saga's definition is the components' own (`saga_definition`), rendered over the table's
name: known in a known stack and in the engine's preview (the provider autonames the table in
Check), unknown in the builder's preview shape unless the table is named explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from resilient_serverless.saga_definition import saga_definition

from .builder import JsonOf, Resource, StackBuilder, concat
from .realistic import REGIONS, SERVICE, TAGS, active_active_stack, function

ASSUME_STATES = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)

Definition = Callable[[Any], dict[str, Any]]


def saga(
    b: StackBuilder,
    region: str,
    *,
    definition: Definition = saga_definition,
    table_name: str | None = None,
    machine_inputs: dict[str, Any] | None = None,
) -> Resource:
    """The Saga component in `region`; returns its state machine. `definition(table_name)`
    builds the definition (the component's own by default); `table_name` names the table
    explicitly (a literal name is known even in the builder's preview shape)."""
    service = b.named(SERVICE)
    name = f"{SERVICE}-{region}-saga"
    component = b.component("resilient-serverless:index:Saga", name, service)
    table = b.add(
        "aws:dynamodb/table:Table",
        f"{name}-table",
        {
            "region": region,
            "name": table_name,
            "billingMode": "PAY_PER_REQUEST",
            "hashKey": "pk",
            "attributes": [{"name": "pk", "type": "S"}],
            "pointInTimeRecovery": {"enabled": True},
            "serverSideEncryption": {"enabled": True},
            "deletionProtectionEnabled": True,
            "ttl": {"attributeName": "expiresAt", "enabled": True},
            "tags": {**TAGS, "resilience:single-region": "true"},
        },
        parent=component,
    )
    logs = b.add(
        "aws:cloudwatch/logGroup:LogGroup",
        f"{name}-logs",
        {
            "region": region,
            "namePrefix": f"/aws/vendedlogs/states/{name}-",
            "retentionInDays": 30,
            "tags": TAGS,
        },
        parent=component,
    )
    role = b.add(
        "aws:iam/role:Role",
        f"{name}-role",
        {
            "assumeRolePolicy": ASSUME_STATES,
            "description": f"Execution role of the {name} state machine ({region})",
            "tags": TAGS,
        },
        parent=component,
    )
    b.add(
        "aws:iam/rolePolicy:RolePolicy",
        f"{name}-policy",
        {
            "role": role.out("id"),
            "policy": JsonOf(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["dynamodb:UpdateItem"],
                            "Resource": [table.out("arn")],
                            "Sid": "HoldAndReleaseInventory",
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogDelivery", "logs:GetLogDelivery"],
                            "Resource": ["*"],
                            "Sid": "DeliverExecutionLogs",
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                            "Resource": ["*"],
                            "Sid": "Tracing",
                        },
                    ],
                }
            ),
        },
        parent=component,
    )
    inputs: dict[str, Any] = {
        "region": region,
        "type": "STANDARD",
        "roleArn": role.out("arn"),
        "definition": JsonOf(definition(table.out("name"))),
        "loggingConfiguration": {
            "level": "ALL",
            "includeExecutionData": True,
            "logDestination": concat(logs.out("arn"), ":*"),
        },
        "tracingConfiguration": {"enabled": True},
        "tags": TAGS,
    }
    for key, value in (machine_inputs or {}).items():
        if value is None:
            inputs.pop(key, None)
        else:
            inputs[key] = value
    return b.add(
        "aws:sfn/stateMachine:StateMachine", f"{name}-state-machine", inputs, parent=component
    )


def stream_consumer(
    b: StackBuilder,
    region: str,
    *,
    retention_hours: int | None = 24,
    mapping_overrides: dict[str, Any] | None = None,
    iterator_alarm: dict[str, Any] | None = None,
) -> Resource:
    """The StreamConsumer component in `region`; returns its mapping. `iterator_alarm` changes
    the iterator-age alarm's inputs (a key set to None removes it; {"remove": True} drops the
    alarm)."""
    service = b.named(SERVICE)
    topic = b.named(f"{SERVICE}-{region}-alarms")
    name = f"{SERVICE}-{region}-events"
    component = b.component("resilient-serverless:index:StreamConsumer", name, service)
    stream_inputs: dict[str, Any] = {
        "region": region,
        "shardCount": 1,
        "streamModeDetails": {"streamMode": "PROVISIONED"},
        "encryptionType": "KMS",
        "kmsKeyId": "alias/aws/kinesis",
        "tags": TAGS,
    }
    if retention_hours is not None:
        stream_inputs["retentionPeriod"] = retention_hours
    stream = b.add("aws:kinesis/stream:Stream", f"{name}-stream", stream_inputs, parent=component)
    failures = b.add(
        "aws:sqs/queue:Queue",
        f"{name}-failures",
        {
            "region": region,
            "messageRetentionSeconds": 1_209_600,
            "sqsManagedSseEnabled": True,
            "tags": TAGS,
        },
        parent=component,
    )
    consumer = function(
        b,
        f"{name}-consumer",
        region,
        parent=component,
        handler="stream_consumer.handler",
        timeout=60,
        memory=256,
        environment={"POWERTOOLS_SERVICE_NAME": "booking-events"},
        statements=[
            {
                "Effect": "Allow",
                "Action": ["kinesis:GetRecords", "kinesis:GetShardIterator"],
                "Resource": [stream.out("arn")],
                "Sid": "ReadStream",
            },
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [failures.out("arn")],
                "Sid": "SendFailurePointers",
            },
        ],
    )
    mapping_inputs: dict[str, Any] = {
        "region": region,
        "eventSourceArn": stream.out("arn"),
        "functionName": consumer.out("arn"),
        "startingPosition": "TRIM_HORIZON",
        "batchSize": 100,
        "maximumBatchingWindowInSeconds": 0,
        "functionResponseTypes": ["ReportBatchItemFailures"],
        "bisectBatchOnFunctionError": True,
        "maximumRetryAttempts": 3,
        "maximumRecordAgeInSeconds": 3600,
        "destinationConfig": {"onFailure": {"destinationArn": failures.out("arn")}},
    }
    for key, value in (mapping_overrides or {}).items():
        if value is None:
            mapping_inputs.pop(key, None)
        else:
            mapping_inputs[key] = value
    mapping = b.add(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        f"{name}-mapping",
        mapping_inputs,
        parent=component,
    )
    alarm_common = {
        "region": region,
        "statistic": "Maximum",
        "period": 60,
        "evaluationPeriods": 1,
        "comparisonOperator": "GreaterThanThreshold",
        "treatMissingData": "notBreaching",
        "alarmActions": [topic.out("arn")],
        "okActions": [topic.out("arn")],
    }
    b.add(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        f"{name}-failures-depth",
        {
            **alarm_common,
            "namespace": "AWS/SQS",
            "metricName": "ApproximateNumberOfMessagesVisible",
            "dimensions": {"QueueName": failures.out("name")},
            "threshold": 0,
        },
        parent=component,
    )
    changes = dict(iterator_alarm or {})
    if not changes.pop("remove", False):
        alarm_inputs: dict[str, Any] = {
            **alarm_common,
            "namespace": "AWS/Lambda",
            "metricName": "IteratorAge",
            "dimensions": {"FunctionName": consumer.out("name")},
            "threshold": 300_000,
        }
        for key, value in changes.items():
            if value is None:
                alarm_inputs.pop(key, None)
            elif value == "STREAM_NAME":
                alarm_inputs[key] = {"StreamName": stream.out("name")}
            else:
                alarm_inputs[key] = value
        b.add(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            f"{name}-iterator-age",
            alarm_inputs,
            parent=component,
        )
    return mapping


def with_sagas_and_streams(regions: Sequence[str] = REGIONS) -> StackBuilder:
    """The compliant service plus a saga and a stream consumer in every region."""
    b = active_active_stack(regions)
    for region in regions:
        saga(b, region)
        stream_consumer(b, region)
    return b
