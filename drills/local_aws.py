"""AWS on 127.0.0.1 for the drills: a moto server whose DynamoDB requests are atomic, and the
task app's resources in it."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class _SerializedDynamoDB:
    """moto applies a conditional write in several unlocked steps, so two threads can both pass
    one condition; DynamoDB cannot. Serializing DynamoDB requests restores the atomicity the
    circuit breaker's lease and the idempotent submit rely on (SQS stays concurrent)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            with self._lock:
                return list(self._app(environ, start_response))
        return self._app(environ, start_response)


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return  # thousands of requests per drill: the progress bar says enough


@contextmanager
def moto_server() -> Iterator[str]:
    """A threaded moto server on 127.0.0.1 (loopback only); yields its URL."""
    app = _SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    # moto's state belongs to the process, not the server: start from an empty account.
    reset(url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def reset(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


@dataclass(frozen=True)
class Resources:
    region: str
    table_name: str
    breaker_table_name: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dynamodb: Any
    sqs: Any


def create(
    url: str, region: str, *, max_receive_count: int = 3, visibility_s: int = 2
) -> Resources:
    """The task app's regional resources as the components declare them (names shortened)."""
    dynamodb = boto3.client("dynamodb", region_name=region, endpoint_url=url, **CREDENTIALS)
    sqs = boto3.client("sqs", region_name=region, endpoint_url=url, **CREDENTIALS)
    for table, key in (("tasks", "taskId"), ("tasks-breakers", "breakerId")):
        dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    dlq_url = sqs.create_queue(QueueName="tasks-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName="tasks-work",
        Attributes={
            "VisibilityTimeout": str(visibility_s),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return Resources(
        region, "tasks", "tasks-breakers", queue_url, queue_arn, dlq_url, dynamodb, sqs
    )


def function_environment(url: str, resources: Resources) -> dict[str, str]:
    """What every task function of a region gets to reach its resources on the local endpoint
    (the components set the same variables in AWS, less the endpoint and the credentials)."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": resources.region,
        "AWS_DEFAULT_REGION": resources.region,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "TABLE_NAME": resources.table_name,
        "QUEUE_URL": resources.queue_url,
        "BREAKER_TABLE_NAME": resources.breaker_table_name,
    }


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def task_items(resources: Resources) -> list[dict[str, Any]]:
    """Every item of the tasks table, as DynamoDB returns it."""
    paginator = resources.dynamodb.get_paginator("scan")
    return [
        item
        for page in paginator.paginate(TableName=resources.table_name, ConsistentRead=True)
        for item in page["Items"]
    ]
