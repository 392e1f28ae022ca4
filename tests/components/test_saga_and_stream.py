"""The Saga and StreamConsumer components on their own and in the prod program, under mocks:
what they register, in which region, with which links, and the arguments they refuse."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from harness import PROJECT, UNKNOWN, Run
from program_runs import prod_config, run_program
from resilient_serverless import (
    ConfigError,
    Function,
    FunctionArgs,
    HandledRoutes,
    PolicyStatement,
    RegionalApiArgs,
    Route,
    Saga,
    SagaArgs,
    StreamConsumer,
    StreamConsumerArgs,
    saga_definition,
    settings_from_mapping,
)
from resilient_serverless.saga import LOG_DELIVERY_ACTIONS, TRACING_ACTIONS
from resilient_serverless.saga_definition import (
    COMPENSATION_FAILED_ERROR,
    COMPENSATION_FAILED_STATE,
    DEFINITE_FAILURE,
)
from resilient_serverless.stream_consumer import CONSUMER_STREAM_ACTIONS

from resilience_policies import thresholds

NS = "resilient-serverless:"
CODE = pulumi.AssetArchive({"app.py": pulumi.StringAsset("def handler(e, c):\n    return e\n")})
REGIONS = ("us-east-1", "eu-west-1")


def _statements(run: Run, policy_name: str) -> dict[str, dict[str, Any]]:
    document = json.loads(run.named(policy_name).inputs["policy"])
    return {statement.get("Sid", ""): statement for statement in document["Statement"]}


def test_saga_registers_a_logged_traced_state_machine_over_its_table(
    run_components: Callable[..., Run],
) -> None:
    run = run_components(lambda: Saga("trips", SagaArgs(tags={"team": "x"}), region="eu-north-1"))
    table = run.named("trips-table")
    machine = run.named("trips-state-machine")
    assert table.inputs["region"] == machine.inputs["region"] == "eu-north-1"
    assert table.inputs["tags"]["resilience:single-region"] == "true"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    assert machine.inputs["type"] == "STANDARD"
    # The deployed definition is the one the moto tests execute, over this table.
    assert json.loads(machine.inputs["definition"]) == saga_definition(table.outputs["name"])
    logging = machine.inputs["loggingConfiguration"]
    assert logging["level"] == "ALL" and logging["includeExecutionData"] is True
    assert logging["logDestination"] == run.named("trips-logs").outputs["arn"] + ":*"
    assert machine.inputs["tracingConfiguration"] == {"enabled": True}
    assert run.named("trips-logs").inputs["namePrefix"].startswith("/aws/vendedlogs/states/")
    statements = _statements(run, "trips-policy")
    assert statements["HoldAndReleaseInventory"] == {
        "Effect": "Allow",
        "Action": ["dynamodb:UpdateItem"],
        "Resource": [table.outputs["arn"]],
        "Sid": "HoldAndReleaseInventory",
    }
    assert statements["DeliverExecutionLogs"]["Action"] == sorted(LOG_DELIVERY_ACTIONS)
    assert statements["Tracing"]["Action"] == sorted(TRACING_ACTIONS)
    assert "states.amazonaws.com" in run.named("trips-role").inputs["assumeRolePolicy"]


def test_saga_definition_is_known_at_preview_and_linked(
    run_components: Callable[..., Run],
) -> None:
    """The definition embeds only the table's name, which the provider's Check fills in (an
    autoname) before the preview plans the table: the definition is known at preview, so the
    pack can read it then. Its ARN-valued settings are not."""
    run = run_components(lambda: Saga("trips", SagaArgs(), region="eu-north-1"), preview=True)
    machine = run.named("trips-state-machine")
    table = run.named("trips-table")
    assert json.loads(machine.inputs["definition"]) == saga_definition(table.outputs["name"])
    assert machine.inputs["roleArn"] == UNKNOWN
    (table_urn,) = machine.property_dependencies["definition"]
    assert table_urn.endswith("::trips-table")
    assert machine.inputs["loggingConfiguration"]["level"] == "ALL"
    assert machine.property_dependencies["loggingConfiguration"][0].endswith("::trips-logs")


def test_saga_alarms_when_a_compensation_fails_for_good(
    run_components: Callable[..., Run],
) -> None:
    """A compensation that gave up leaves holds behind: the execution log's ExecutionFailed
    event with error CompensationFailed is counted, and the first one raises the alarm."""
    run = run_components(
        lambda: Saga("trips", SagaArgs(alarm_action_arn="arn:topic"), region="eu-north-1")
    )
    machine = run.named("trips-state-machine")
    counted = run.named("trips-compensation-failures")
    assert counted.inputs["region"] == "eu-north-1"
    assert counted.inputs["logGroupName"] == run.named("trips-logs").outputs["name"]
    pattern = counted.inputs["pattern"]
    assert '$.type = "ExecutionFailed"' in pattern
    assert f'$.details.error = "{COMPENSATION_FAILED_ERROR}"' in pattern
    transformation = counted.inputs["metricTransformation"]
    assert transformation["value"] == "1"
    alarm = run.named("trips-compensation-failed")
    assert alarm.inputs["region"] == "eu-north-1"
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == (
        transformation["namespace"],
        transformation["name"],
    )
    # One metric per stack and saga: two stacks in one account do not alarm for each other.
    assert transformation["name"] == f"CompensationsFailed-{PROJECT}-test-trips"
    assert machine.inputs["loggingConfiguration"]["includeExecutionData"] is True
    assert alarm.inputs["threshold"] == 0
    assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == ["arn:topic"]
    assert "python -m tools.saga_repair" in alarm.inputs["alarmDescription"]


def test_saga_compensations_retry_for_an_hour_then_record_what_they_hold(
    run_components: Callable[..., Run],
) -> None:
    """The deployed definition: each compensation retries any error but "no such resource"
    for an hour or more, then writes what the booking may still hold to the saga's table (with
    UpdateItem, the one action the role has) before it ends in CompensationFailed."""
    run = run_components(lambda: Saga("trips", SagaArgs(), region="eu-north-1"))
    table_name = run.named("trips-table").outputs["name"]
    states = json.loads(run.named("trips-state-machine").inputs["definition"])["States"]
    cancels = {name: state for name, state in states.items() if name.startswith("Cancel")}
    assert len(cancels) == 3
    for name, state in cancels.items():
        never, patient = state["Retry"]
        assert never == {"ErrorEquals": [DEFINITE_FAILURE], "MaxAttempts": 0}
        assert patient["ErrorEquals"] == ["States.ALL"]
        assert patient["JitterStrategy"] == "FULL"
        waits = [
            min(
                patient["IntervalSeconds"] * patient["BackoffRate"] ** k, patient["MaxDelaySeconds"]
            )
            for k in range(patient["MaxAttempts"])
        ]
        assert sum(waits) >= 3600, (name, sum(waits))
        (catch_all,) = [c for c in state["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
        noted = states[catch_all["Next"]]
        assert noted["Type"] == "Pass" and noted["Parameters"]["releaseFailed"] == name.lower()[6:]
        record = states[noted["Next"]]
        assert record["Resource"] == "arn:aws:states:::dynamodb:updateItem"
        assert record["Parameters"]["TableName"] == table_name
        assert record["Parameters"]["Key"]["pk"]["S.$"].startswith(
            "States.Format('compensation-failed#{}'"
        )
        # Written or not, the execution ends in CompensationFailed (and the alarm fires).
        assert record["Retry"] == [patient]
        assert states[record["Next"]]["Next"] == COMPENSATION_FAILED_STATE
        assert [c["Next"] for c in record["Catch"]] == [COMPENSATION_FAILED_STATE]
    assert states[COMPENSATION_FAILED_STATE]["Type"] == "Fail"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"log_level": "OFF"}, "log_level"),
        ({"log_retention_days": 2}, "log_retention_days"),
        ({"steps": ()}, "steps"),
    ],
)
def test_saga_refuses_bad_args(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SagaArgs(**changes).validate()


def _consumer(**changes: Any) -> StreamConsumerArgs:
    return StreamConsumerArgs(
        consumer=FunctionArgs(
            handler="app.handler",
            code=CODE,
            timeout_s=60,
            policy_statements=[PolicyStatement(actions=["s3:PutObject"], resources=["arn:x"])],
        ),
        **changes,
    )


def test_stream_consumer_mapping_survives_poison_records(
    run_components: Callable[..., Run],
) -> None:
    run = run_components(
        lambda: StreamConsumer(
            "clicks",
            _consumer(retention_hours=48, alarm_action_arn="arn:topic"),
            region="sa-east-1",
        )
    )
    stream = run.named("clicks-stream")
    assert stream.inputs["retentionPeriod"] == 48
    assert stream.inputs["encryptionType"] == "KMS"
    mapping = run.named("clicks-mapping")
    assert mapping.inputs["region"] == "sa-east-1"
    assert mapping.inputs["bisectBatchOnFunctionError"] is True
    assert mapping.inputs["maximumRetryAttempts"] == thresholds.KINESIS_CONSUMER_RETRY_ATTEMPTS
    assert mapping.inputs["maximumRecordAgeInSeconds"] == thresholds.STREAM_MAX_RECORD_AGE_S
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    failures = run.named("clicks-failures")
    assert (
        mapping.inputs["destinationConfig"]["onFailure"]["destinationArn"]
        == (failures.outputs["arn"])
    )
    assert failures.inputs["messageRetentionSeconds"] == thresholds.DLQ_RETENTION_S
    depth = run.named("clicks-failures-depth")
    assert depth.inputs["dimensions"] == {"QueueName": failures.outputs["name"]}
    assert depth.inputs["threshold"] == 0 and depth.inputs["alarmActions"] == ["arn:topic"]
    age = run.named("clicks-iterator-age")
    assert (age.inputs["namespace"], age.inputs["metricName"]) == ("AWS/Lambda", "IteratorAge")
    assert age.inputs["threshold"] == thresholds.KINESIS_ITERATOR_AGE_ALARM_MS
    assert age.inputs["dimensions"] == {
        "FunctionName": run.named("clicks-consumer-fn").outputs["name"]
    }
    statements = _statements(run, "clicks-consumer-policy")
    assert statements["ReadStream"]["Action"] == sorted(CONSUMER_STREAM_ACTIONS)
    assert statements["ReadStream"]["Resource"] == [stream.outputs["arn"]]
    assert statements["SendFailurePointers"] == {
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": [failures.outputs["arn"]],
        "Sid": "SendFailurePointers",
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"retention_hours": 12}, "retention_hours"),
        ({"max_retry_attempts": -1}, "max_retry_attempts"),
        ({"max_retry_attempts": 50}, "max_retry_attempts"),
        ({"max_record_age_s": 86_400}, "max_record_age_s"),
        ({"iterator_age_alarm_ms": 3_600_000}, "iterator_age_alarm_ms"),
        ({"starting_position": "AT_TIMESTAMP"}, "starting_position"),
        ({"batch_size": 0}, "batch_size"),
        ({"shard_count": 0}, "shard_count"),
    ],
)
def test_stream_consumer_refuses_bad_args(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _consumer(**changes).validate()


def test_prod_has_a_saga_and_a_stream_consumer_in_every_region(prod_run: Run) -> None:
    for region in REGIONS:
        prefix = f"tasks-{region}"
        machine = prod_run.named(f"{prefix}-saga-state-machine")
        assert machine.inputs["region"] == region
        stream = prod_run.named(f"{prefix}-events-stream")
        assert stream.inputs["region"] == region
        assert stream.inputs["retentionPeriod"] == thresholds.KINESIS_RETENTION_HOURS_DEFAULT
        bookings = prod_run.named(f"{prefix}-bookings-api-fn")
        assert bookings.inputs["handler"] == "saga_api.handler"
        assert (
            bookings.inputs["environment"]["variables"]["STATE_MACHINE_ARN"]
            == (machine.outputs["arn"])
        )
        statements = _statements(prod_run, f"{prefix}-bookings-api-policy")
        assert statements["StartBookings"]["Resource"] == [machine.outputs["arn"]]
        (executions,) = statements["ReadBookings"]["Resource"]
        assert executions == machine.outputs["arn"].replace(":stateMachine:", ":execution:") + ":*"
        consumer = prod_run.named(f"{prefix}-events-consumer-fn")
        table = prod_run.named(f"{prefix}-saga-table")
        assert consumer.inputs["environment"]["variables"]["TABLE_NAME"] == table.outputs["name"]
        assert _statements(prod_run, f"{prefix}-events-consumer-policy")["RecordEvents"][
            "Resource"
        ] == [table.outputs["arn"]]
        # The stream's alarms and the saga's notify the region's topic.
        topic_arn = prod_run.named(f"{prefix}-alarms").outputs["arn"]
        for alarm in ("events-failures-depth", "events-iterator-age", "saga-compensation-failed"):
            assert prod_run.named(f"{prefix}-{alarm}").inputs["alarmActions"] == [topic_arn]


def test_bookings_routes_reach_the_bookings_function(prod_run: Run) -> None:
    for region in REGIONS:
        prefix = f"tasks-{region}-api"
        bookings_fn = prod_run.named(f"tasks-{region}-bookings-api-fn")
        for slug in ("post-bookings", "get-bookings-bookingid"):
            integration = prod_run.named(f"{prefix}-{slug}-integration")
            assert integration.property_dependencies["uri"] == [bookings_fn.urn]
            assert integration.inputs["timeoutMilliseconds"] == 29_000
        task_integration = prod_run.named(f"{prefix}-post-tasks-integration")
        assert task_integration.property_dependencies["uri"] == [
            prod_run.named(f"tasks-{region}-api-fn").urn
        ]
        permission = prod_run.named(f"{prefix}-invoke-bookings")
        assert permission.property_dependencies["function"] == [bookings_fn.urn]
        assert permission.inputs["principal"] == "apigateway.amazonaws.com"


def test_stream_retention_is_stack_config() -> None:
    run = run_program(prod_config() | {f"{NS}streamRetentionHours": "72"})
    for region in REGIONS:
        assert run.named(f"tasks-{region}-events-stream").inputs["retentionPeriod"] == 72


@pytest.mark.parametrize(("key", "value"), [("streamRetentionHours", 12), ("streamShardCount", 0)])
def test_bad_stream_settings_name_their_key(key: str, value: int) -> None:
    raw = {
        "regions": ["us-east-1", "eu-west-1"],
        "domainName": "tasks.example.com",
        "hostedZoneName": "example.com",
        key: value,
    }
    with pytest.raises(ConfigError, match=f"{NS}{key}: {value} must be between"):
        settings_from_mapping(raw)


@pytest.mark.parametrize(
    ("timeout_s", "routes", "message"),
    [
        (
            40,
            [("POST", "bookings")],
            r"more_handlers\['bookings'\]: the function times out after 40",
        ),
        (10, [("POST", "tasks")], "POST tasks is served twice"),
    ],
)
def test_more_handlers_are_validated(
    run_components: Callable[..., Run],
    timeout_s: int,
    routes: list[tuple[str, str]],
    message: str,
) -> None:
    failures: list[str] = []

    def build() -> None:
        main = Function("main", FunctionArgs(handler="app.handler", code=CODE), region="eu-west-1")
        other = Function(
            "other",
            FunctionArgs(handler="app.handler", code=CODE, timeout_s=timeout_s),
            region="eu-west-1",
        )
        args = RegionalApiArgs(
            handler=main.target(),
            routes=[Route("GET", "health"), Route("POST", "tasks")],
            domain_name="api.example.com",
            zone_id="Z1",
            more_handlers=[
                HandledRoutes("bookings", other.target(), [Route(m, path) for m, path in routes])
            ],
        )
        try:
            args.validate()
        except ValueError as error:
            failures.append(str(error))

    run_components(build)
    assert len(failures) == 1 and re.search(message, failures[0]), failures
