"""GET /health: a deep check of this region's table and queue, for Route53 health checks."""

from __future__ import annotations

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
    assert answer.body["status"] == "healthy"
    assert answer.body["region"] == "eu-west-1"
    assert set(answer.body["dependencies"]) == {"table", "queue"}
    for detail in answer.body["dependencies"].values():
        assert detail["ok"] is True
        assert detail["latencyMs"] >= 0
    assert "failed" not in answer.body
    assert answer.headers["Cache-Control"] == "no-store"
    # The probe reads a sentinel key; it never writes.
    assert aws.items() == []


def test_missing_table_is_503_naming_the_table(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    aws.dynamodb.delete_table(TableName=aws.table_name)

    answer = call_api(task_api.handler, lambda_context, health_event())

    assert answer.status_code == 503
    assert answer.body["status"] == "unhealthy"
    assert answer.body["failed"] == ["table"]
    assert answer.body["dependencies"]["table"] == {
        "ok": False,
        "latencyMs": answer.body["dependencies"]["table"]["latencyMs"],
        "error": "ResourceNotFoundException",
    }
    assert answer.body["dependencies"]["queue"]["ok"] is True


def test_missing_queue_is_503_naming_the_queue(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    aws.sqs.delete_queue(QueueUrl=aws.queue_url)

    answer = call_api(task_api.handler, lambda_context, health_event())

    assert answer.status_code == 503
    assert answer.body["failed"] == ["queue"]
    assert answer.body["dependencies"]["queue"]["ok"] is False
    assert answer.body["dependencies"]["queue"]["error"] in {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    }
    assert answer.body["dependencies"]["table"]["ok"] is True


def test_both_missing_names_both(aws: MotoResources, lambda_context: FakeLambdaContext) -> None:
    aws.dynamodb.delete_table(TableName=aws.table_name)
    aws.sqs.delete_queue(QueueUrl=aws.queue_url)
    answer = call_api(task_api.handler, lambda_context, health_event())
    assert answer.status_code == 503
    assert answer.body["failed"] == ["table", "queue"]


@pytest.mark.parametrize("variable", ["TABLE_NAME", "QUEUE_URL"])
def test_missing_configuration_is_503_naming_the_variable(
    aws: MotoResources,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.delenv(variable)
    answer = call_api(task_api.handler, lambda_context, health_event())
    assert answer.status_code == 503
    assert answer.body["status"] == "unhealthy"
    assert any(variable in str(detail) for detail in answer.body["dependencies"].values())


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
