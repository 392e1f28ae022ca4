"""GET /health: a deep check of this region's table and queue, for Route53 health checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from handler_test_support import FakeLambdaContext, MotoResources, call_api, health_event

import aws_clients
import task_api
from task_store import HEALTH_PROBE_KEY


def test_healthy_when_table_and_queue_answer(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    answer = call_api(task_api.handler, lambda_context, health_event())

    assert answer.status_code == 200
    assert answer.body == {
        "status": "ok",
        "region": "eu-west-1",
        "dependencies": {"table": "up", "queue": "up"},
    }
    assert answer.headers["Cache-Control"] == "no-store"
    # The probe reads a sentinel key; it never writes.
    assert aws.items() == []


Logs = Callable[[], list[dict[str, Any]]]


def _health_failure_log(structured_logs: Logs) -> dict[str, Any]:
    [logged] = [line for line in structured_logs() if line["message"] == "Health check failed"]
    return logged


def test_missing_table_is_503_with_the_table_down_and_the_error_in_the_log(
    aws: MotoResources, lambda_context: FakeLambdaContext, structured_logs: Logs
) -> None:
    aws.dynamodb.delete_table(TableName=aws.table_name)

    answer = call_api(task_api.handler, lambda_context, health_event())

    assert answer.status_code == 503
    assert answer.body == {
        "status": "degraded",
        "region": "eu-west-1",
        "dependencies": {"table": "down", "queue": "up"},
    }
    logged = _health_failure_log(structured_logs)
    assert logged["failed"] == ["table"]
    assert logged["dependencies"]["table"]["error"] == "ResourceNotFoundException"


def test_missing_queue_is_503_with_the_queue_down_and_the_error_in_the_log(
    aws: MotoResources, lambda_context: FakeLambdaContext, structured_logs: Logs
) -> None:
    aws.sqs.delete_queue(QueueUrl=aws.queue_url)

    answer = call_api(task_api.handler, lambda_context, health_event())

    assert answer.status_code == 503
    assert answer.body["dependencies"] == {"table": "up", "queue": "down"}
    assert _health_failure_log(structured_logs)["dependencies"]["queue"]["error"] in {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    }


def test_both_missing_are_both_down(aws: MotoResources, lambda_context: FakeLambdaContext) -> None:
    aws.dynamodb.delete_table(TableName=aws.table_name)
    aws.sqs.delete_queue(QueueUrl=aws.queue_url)
    answer = call_api(task_api.handler, lambda_context, health_event())
    assert answer.status_code == 503
    assert answer.body["status"] == "degraded"
    assert answer.body["dependencies"] == {"table": "down", "queue": "down"}


@pytest.mark.parametrize("variable", ["TABLE_NAME", "QUEUE_URL"])
def test_missing_configuration_is_503_and_only_the_log_names_the_variable(
    aws: MotoResources,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    structured_logs: Logs,
    variable: str,
) -> None:
    monkeypatch.delenv(variable)
    answer = call_api(task_api.handler, lambda_context, health_event())
    assert answer.status_code == 503
    assert answer.body["status"] == "degraded"
    assert variable not in str(answer.body)
    assert variable in str(structured_logs())


def test_the_table_probe_reads_strongly_so_a_cut_off_strong_region_fails_it(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    """On an MRSC table a region that reaches neither the other replica nor the witness
    answers only eventually consistent reads: the probe must ask for a strong one."""
    sent: list[dict[str, Any]] = []

    def record(client: Any, service: str) -> None:
        if service == "dynamodb":
            client.meta.events.register(
                "provide-client-params.dynamodb.GetItem",
                lambda params, **kwargs: sent.append(dict(params)),
            )

    aws_clients.add_client_hook(record)
    answer = call_api(task_api.handler, lambda_context, health_event())

    assert answer.status_code == 200
    probes = [params for params in sent if params["Key"] == {"taskId": {"S": HEALTH_PROBE_KEY}}]
    assert probes and all(params.get("ConsistentRead") is True for params in probes)
