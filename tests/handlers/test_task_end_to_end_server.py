"""End to end over real HTTP: the handlers' own boto3 clients talk to a moto server on
127.0.0.1, so request serialization, response parsing, error codes and the endpoint setting
(botocore's standard AWS_ENDPOINT_URL) are exercised the way they are against AWS.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator

import pytest
from handler_test_support import (
    FakeLambdaContext,
    MotoResources,
    call_api,
    create_resources,
    get_event,
    health_event,
    sqs_event,
    submit_event,
)
from moto.server import ThreadedMotoServer

import task_api
import task_worker


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def served(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoResources]:
    reset = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as response:
        assert response.status == 200
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    resources = create_resources(endpoint_url=moto_server)
    assert resources.queue_url.startswith(moto_server)
    monkeypatch.setenv("TABLE_NAME", resources.table_name)
    monkeypatch.setenv("QUEUE_URL", resources.queue_url)
    yield resources
    with urllib.request.urlopen(reset, timeout=10):
        pass


def test_submit_work_poll_over_http(
    served: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    requests = {
        "sum": ({"numbers": [40, 2]}, {"sum": 42, "count": 2}),
        "sha256": ({"text": "abc"}, {"sha256": hashlib.sha256(b"abc").hexdigest(), "bytes": 3}),
        "word_count": ({"text": "to be or not to be"}, {"words": 6, "characters": 18}),
        "count_primes": ({"below": 1000}, {"primes": 168, "below": 1000}),
    }
    task_ids: dict[str, str] = {}
    for task_type, (parameters, _) in requests.items():
        answer = call_api(
            task_api.handler,
            lambda_context,
            submit_event({"taskType": task_type, "parameters": parameters}),
        )
        assert answer.status_code == 202, answer.body
        task_ids[task_type] = answer.body["taskId"]
    poison_id = served.send_raw("definitely not a task")

    messages = served.receive_all(len(requests) + 1)
    assert len(messages) == len(requests) + 1
    response = task_worker.handler(sqs_event(messages, served.queue_arn), FakeLambdaContext())
    assert response["batchItemFailures"] == [{"itemIdentifier": poison_id}]

    for task_type, (_, expected) in requests.items():
        polled = call_api(task_api.handler, lambda_context, get_event(task_ids[task_type]))
        assert polled.status_code == 200
        assert polled.body["status"] == "SUCCEEDED"
        assert polled.body["result"] == expected

    # Redelivery over HTTP: the conditional write's failure (with the old item returned) is
    # parsed from a real DynamoDB error response.
    before = sorted(served.items(), key=lambda item: item["taskId"]["S"])
    good = [message for message in messages if message["MessageId"] != poison_id]
    again = task_worker.handler(sqs_event(good, served.queue_arn), FakeLambdaContext())
    assert again["batchItemFailures"] == []
    assert sorted(served.items(), key=lambda item: item["taskId"]["S"]) == before


def test_enqueue_failure_over_http(
    served: MotoResources, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUE_URL", served.queue_url + "-gone")
    answer = call_api(
        task_api.handler,
        lambda_context,
        submit_event({"taskType": "sum", "parameters": {"numbers": [1]}}),
    )
    assert answer.status_code == 503
    [item] = served.items()
    assert item["status"]["S"] == "ENQUEUE_FAILED"


def test_health_over_http(served: MotoResources, lambda_context: FakeLambdaContext) -> None:
    healthy = call_api(task_api.handler, lambda_context, health_event())
    assert healthy.status_code == 200, json.dumps(healthy.body)

    served.sqs.delete_queue(QueueUrl=served.queue_url)
    no_queue = call_api(task_api.handler, lambda_context, health_event())
    assert no_queue.status_code == 503
    assert no_queue.body["dependencies"] == {"table": "up", "queue": "down"}

    served.dynamodb.delete_table(TableName=served.table_name)
    neither = call_api(task_api.handler, lambda_context, health_event())
    assert neither.status_code == 503
    assert neither.body["dependencies"] == {"table": "down", "queue": "down"}
    # The error codes are for the logs only.
    assert "ResourceNotFoundException" not in json.dumps(neither.body)
