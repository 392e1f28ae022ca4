"""Lost, slow and failing replies through real botocore and real HTTP.

A proxy on 127.0.0.1 sits between the handlers' own boto3 clients and a moto server: it can
forward a request and drop the reply (the write is applied, the client never learns it), delay
a reply past the client's read timeout, or answer 500 without forwarding. Nothing in the
handlers is patched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from handler_test_support import (
    ApiAnswer,
    FakeLambdaContext,
    MotoResources,
    call_api,
    create_resources,
    get_event,
    sqs_event,
    submit_event,
)
from local_network import FaultProxy, Rule, fault_proxy, reset_moto

import task_api
import task_worker
from task_model import parse_task_id

REQUEST = {"taskType": "sum", "parameters": {"numbers": [5, 6]}}


@dataclass
class Network:
    resources: MotoResources
    proxy: FaultProxy


@pytest.fixture
def network(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Network]:
    reset_moto(moto_url)
    resources = create_resources(endpoint_url=moto_url)
    with fault_proxy(moto_url) as (proxy_url, proxy):
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy_url)
        monkeypatch.setenv("TABLE_NAME", resources.table_name)
        monkeypatch.setenv("QUEUE_URL", resources.queue_url)
        yield Network(resources, proxy)


@dataclass
class ShortContext(FakeLambdaContext):
    remaining_ms: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def submit(headers: dict[str, str] | None = None, remaining_ms: int = 10_000) -> ApiAnswer:
    event = submit_event(REQUEST)
    event["headers"].update(headers or {})
    return call_api(task_api.handler, ShortContext(remaining_ms=remaining_ms), event)


def test_put_whose_reply_is_lost_resolves_to_the_task_written(network: Network) -> None:
    network.proxy.rules.append(Rule("PutItem", "lose"))
    answer = submit({"Idempotency-Key": "order-1"})
    assert answer.status_code == 202, answer.body
    # The first PutItem was applied, its reply lost; botocore's connection error was retried
    # and the retry read back the task the first attempt wrote.
    assert network.proxy.forwarded["PutItem"] == 2
    [item] = network.resources.items()
    assert item["publicId"]["S"] == answer.body["taskId"]
    assert item["taskId"]["S"] == parse_task_id(answer.body["taskId"]).key
    assert network.resources.messages_in_queue() == 1
    # ... and it runs to completion: no orphan PENDING task.
    messages = network.resources.receive_all(1)
    result = task_worker.handler(sqs_event(messages, network.resources.queue_arn), ShortContext())
    assert result["batchItemFailures"] == []
    polled = call_api(task_api.handler, FakeLambdaContext(), get_event(answer.body["taskId"]))
    assert polled.body["status"] == "SUCCEEDED"


def test_send_whose_reply_is_slow_is_sent_twice_and_the_task_runs_once(network: Network) -> None:
    # 2.5 s left - 1 s margin - 0.5 s kept for marking: the send gets the (0.25 s, 0.5 s) tier.
    network.proxy.rules.append(Rule("SendMessage", "delay", delay_s=1.0))
    answer = submit(remaining_ms=2_500)
    assert answer.status_code == 202, answer.body
    assert network.proxy.forwarded["SendMessage"] == 2
    messages = network.resources.receive_all(2)
    assert len(messages) == 2
    result = task_worker.handler(sqs_event(messages, network.resources.queue_arn), ShortContext())
    assert result["batchItemFailures"] == []
    [item] = network.resources.items()
    assert item["status"]["S"] == "SUCCEEDED"
    assert json.loads(item["result"]["S"]) == {"sum": 11, "count": 2}


def test_same_key_twice_is_one_task_and_a_different_body_is_refused(network: Network) -> None:
    first = submit({"Idempotency-Key": "k-42"})
    again = submit({"idempotency-key": "k-42"})
    assert first.status_code == again.status_code == 202
    assert first.body["taskId"] == again.body["taskId"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(network.resources.items()) == 1

    other = submit_event({"taskType": "sum", "parameters": {"numbers": [7]}})
    other["headers"]["Idempotency-Key"] = "k-42"
    conflict = call_api(task_api.handler, FakeLambdaContext(), other)
    assert conflict.status_code == 422
    assert conflict.body["error"] == "IdempotencyKeyReused"
    assert conflict.body["field"] == "Idempotency-Key"
    assert len(network.resources.items()) == 1


def test_failing_table_trips_the_breaker_and_later_posts_fail_fast(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", "5")
    monkeypatch.setenv("BREAKER_OPEN_SECONDS", "60")
    network.proxy.rules.append(Rule("PutItem", "fail", times=10_000))
    answers = []
    for number in range(60):
        event = submit_event({"taskType": "sum", "parameters": {"numbers": [number]}})
        answers.append(call_api(task_api.handler, FakeLambdaContext(), event))
    assert {answer.status_code for answer in answers} == {503}
    assert all("Retry-After" in answer.headers for answer in answers)
    # Five failed attempts open the circuit; every later POST fails fast without a call.
    assert network.proxy.seen["PutItem"] == 5
    assert answers[-1].body["dependency"] == "table"
    assert "circuit for table is open" in answers[-1].body["message"]
