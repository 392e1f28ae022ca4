"""Failure injection: refused unless the stack allows it; faults injected through botocore's own
hooks (errors, slow replies, lost replies), the API's status fault, and the SSM kill switch."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from handler_test_support import FakeLambdaContext, MotoResources, call_api, submit_event

import aws_clients
import fault_injection
import task_api
from aws_clients import CallProfile
from fault_injection import FaultConfigError, FaultSource, Injector, parse_config

TABLE_FAULTS = {"enabled": True, "dependencies": {"table": {"errorRate": 1.0}}}


@pytest.fixture(autouse=True)
def _no_injector() -> Any:
    yield
    fault_injection._injector = None


def test_refused_unless_the_stack_allows_it() -> None:
    env = {"FAULT_INJECTION": json.dumps(TABLE_FAULTS), "AWS_REGION": "eu-west-1"}
    assert fault_injection.activate(env) is None
    assert fault_injection.activate({**env, "FAULT_INJECTION_ALLOWED": "false"}) is None
    assert fault_injection.activate({**env, "FAULT_INJECTION_ALLOWED": "true"}) is not None


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("[]", "fault configuration"),
        ('{"enabled": true, "chaos": 1}', "unknown fields"),
        ('{"dependencies": {"disk": {}}}', "dependencies.disk"),
        ('{"dependencies": {"table": {"errorRate": 2}}}', "dependencies.table.errorRate"),
        ('{"dependencies": {"queue": {"latencyMs": -1}}}', "dependencies.queue.latencyMs"),
        (
            '{"dependencies": {"table": {"slowAfterApplyRate": -0.5}}}',
            "dependencies.table.slowAfterApplyRate",
        ),
        ('{"api": {"statusCode": 200}}', "api.statusCode"),
    ],
)
def test_bad_configuration_names_the_field(document: str, field: str) -> None:
    with pytest.raises(FaultConfigError, match=field.replace(".", r"\.")):
        parse_config(document)


def injector(config: dict[str, Any], **kwargs: Any) -> Injector:
    env = {"FAULT_INJECTION": json.dumps(config), "FAULT_INJECTION_ALLOWED": "true"}
    made = Injector(FaultSource(env), env, **kwargs)
    aws_clients.add_client_hook(made.install)
    return made


def test_errors_latency_and_lost_replies_through_botocore(aws: MotoResources) -> None:
    made = injector(TABLE_FAULTS)
    dynamodb = aws_clients.client("dynamodb", "eu-west-1", CallProfile.REQUEST)
    with pytest.raises(ClientError) as raised:
        dynamodb.get_item(TableName=aws.table_name, Key={"taskId": {"S": "x"}})
    assert raised.value.response["Error"]["Code"] == "InternalServerError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # The queue has no faults configured.
    aws_clients.client("sqs", "eu-west-1", CallProfile.REQUEST).send_message(
        QueueUrl=aws.queue_url, MessageBody="{}"
    )
    assert made.counts == {"table:error": 1}

    aws_clients.reset_clients()
    slept: list[float] = []
    slow = injector(
        {"enabled": True, "dependencies": {"queue": {"latencyMs": 60_000}}}, sleep=slept.append
    )
    sqs = aws_clients.client("sqs", "eu-west-1", CallProfile.REQUEST)
    with pytest.raises(ReadTimeoutError):
        sqs.send_message(QueueUrl=aws.queue_url, MessageBody="{}")
    assert slept == [2.0]  # waited the client's read timeout, not a minute
    assert slow.counts == {"queue:timeout": 1}


def test_lost_reply_is_applied_then_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Against a real endpoint: the lost reply needs a request that really goes out."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        sqs = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(QueueName="lost")["QueueUrl"]
        injector({"enabled": True, "dependencies": {"queue": {"lostReplyRate": 1.0}}})
        client = aws_clients.client("sqs", "eu-west-1", CallProfile.REQUEST)
        with pytest.raises(ConnectionClosedError):
            client.send_message(QueueUrl=url, MessageBody="applied")
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
        assert [m["Body"] for m in got] == ["applied"]
    finally:
        server.stop()


@pytest.mark.parametrize(("latency_ms", "late_reply_arrives"), [(60_000, False), (100, True)])
def test_slow_after_apply_sends_the_write_then_answers_late(
    monkeypatch: pytest.MonkeyPatch, latency_ms: int, late_reply_arrives: bool
) -> None:
    """The write lands and only its reply is late: past the read timeout the caller times out
    on a write that was applied (what an idempotent retry must absorb)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        sqs = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(QueueName="slow-applied")["QueueUrl"]
        slept: list[float] = []
        made = injector(
            {
                "enabled": True,
                "dependencies": {"queue": {"latencyMs": latency_ms, "slowAfterApplyRate": 1.0}},
            },
            sleep=slept.append,
        )
        client = aws_clients.client("sqs", "eu-west-1", CallProfile.REQUEST)
        if late_reply_arrives:
            assert client.send_message(QueueUrl=url, MessageBody="applied")["MessageId"]
            assert slept == [0.1]
        else:
            with pytest.raises(ReadTimeoutError):
                client.send_message(QueueUrl=url, MessageBody="applied")
            assert slept == [2.0]  # the client's read timeout, not a minute
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
        assert [m["Body"] for m in got] == ["applied"]
        assert made.counts == {"queue:slow-applied": 1}
    finally:
        server.stop()


def test_api_status_fault(aws: MotoResources) -> None:
    fault_injection._injector = Injector(
        FaultSource(
            {
                "FAULT_INJECTION": json.dumps(
                    {"enabled": True, "api": {"statusCode": 503, "rate": 1}}
                )
            }
        ),
        {},
    )
    answer = call_api(
        task_api.handler,
        FakeLambdaContext(),
        submit_event({"taskType": "sum", "parameters": {"numbers": [1]}}),
    )
    assert answer.status_code == 503 and answer.body["error"] == "InjectedFault"
    assert aws.items() == []


def test_ssm_parameter_overrides_and_its_kill_switch_stops_everything(aws: MotoResources) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    ssm.put_parameter(Name="/tasks/faults", Value=json.dumps(TABLE_FAULTS), Type="String")
    now = [0.0]
    env = {"FAULT_INJECTION_PARAMETER": "/tasks/faults", "FAULT_INJECTION_CACHE_SECONDS": "60"}
    source = FaultSource(env, fault_injection._ssm_reader("eu-west-1"), clock=lambda: now[0])
    assert source.current().enabled
    ssm.put_parameter(Name="/tasks/faults", Value='{"enabled": false}', Overwrite=True)
    assert source.current().enabled  # cached
    now[0] += 61
    assert not source.current().enabled  # kill switch seen after the cache period
    ssm.delete_parameter(Name="/tasks/faults")
    now[0] += 61
    assert not source.current().enabled  # unreadable parameter: nothing injected


def test_an_invalid_parameter_injects_nothing_and_says_why() -> None:
    env = {
        "FAULT_INJECTION_PARAMETER": "/tasks/faults",
        "FAULT_INJECTION": json.dumps(TABLE_FAULTS),
    }
    source = FaultSource(env, lambda name: '{"enabled": true, "dependencies": {"disk": {}}}')
    assert source.current() == fault_injection.FaultConfig()
    assert source.last_error is not None and "dependencies.disk" in source.last_error
