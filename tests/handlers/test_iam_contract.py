"""The IAM the components grant covers every AWS call the handlers make, and no more.

Every botocore call the handler code makes during the whole task lifecycle (submit, enqueue
failure, work, redelivery, poll, health) is recorded as the IAM action it needs, per handler,
and compared with the role policies the ActiveActiveService component renders under Pulumi
mocks. A handler that starts calling something new fails here, not with AccessDenied in Lambda.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from handler_test_support import (
    FakeLambdaContext,
    MotoResources,
    api_event,
    call_api,
    get_event,
    sqs_event,
    submit_event,
)

import task_api
import task_worker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

from program_runs import prod_config, run_program

#: What Lambda's SQS poller calls with the worker's role: granted, never called by the code.
POLLER_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
}
#: Granted to every function for its own logs and traces (the runtime calls them, not boto3).
RUNTIME_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


class CallRecorder:
    def __init__(self) -> None:
        self.current: str | None = None
        self.actions: dict[str, set[str]] = {"api": set(), "worker": set()}

    @contextmanager
    def as_handler(self, name: str) -> Iterator[None]:
        self.current = name
        try:
            yield
        finally:
            self.current = None


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> CallRecorder:
    recorder = CallRecorder()
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: Any) -> Any:
        if recorder.current is not None:
            prefix = client.meta.service_model.signing_name
            recorder.actions[recorder.current].add(f"{prefix}:{operation}")
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return recorder


def granted_actions() -> dict[str, set[str]]:
    """The actions in each function role's inline policy, as the component renders them."""
    run = run_program(prod_config())
    granted: dict[str, set[str]] = {}
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        if not policy.name.startswith("tasks-eu-west-1-"):
            continue
        role = "worker" if "-worker-" in policy.name else "api"
        statements = json.loads(policy.inputs["policy"])["Statement"]
        granted[role] = {action for statement in statements for action in statement["Action"]}
    return granted


def test_components_grant_exactly_what_the_handlers_call(
    aws: MotoResources, recorder: CallRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = FakeLambdaContext()
    request = {"taskType": "sum", "parameters": {"numbers": [1, 2]}}
    with recorder.as_handler("api"):
        submitted = call_api(task_api.handler, context, submit_event(request))
        assert submitted.status_code == 202
        assert (
            call_api(task_api.handler, context, get_event(submitted.body["taskId"])).status_code
            == 200
        )
        health = call_api(task_api.handler, context, api_event("GET", "/health"))
        assert health.status_code == 200, health.body
    messages = aws.receive_all(1)
    with recorder.as_handler("worker"):
        for _ in range(2):  # the second delivery takes the redelivery path
            response = task_worker.handler(sqs_event(messages, aws.queue_arn), context)
            assert response["batchItemFailures"] == []
    # The enqueue-failure path: the send fails, the API marks the task.
    monkeypatch.setenv("QUEUE_URL", aws.queue_url + "-missing")
    with recorder.as_handler("api"):
        assert call_api(task_api.handler, context, submit_event(request)).status_code == 503

    granted = granted_actions()
    called = recorder.actions
    assert called["api"] == {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
    }
    assert called["worker"] == {"dynamodb:UpdateItem"}
    # Everything called is granted ...
    assert called["api"] <= granted["api"]
    assert called["worker"] <= granted["worker"]
    # ... and nothing is granted that neither the code, the runtime nor the poller uses (the
    # worker keeps GetItem: its conditional update returns the old item on a failed check).
    assert granted["api"] - called["api"] == RUNTIME_ACTIONS
    assert granted["worker"] - called["worker"] == RUNTIME_ACTIONS | POLLER_ACTIONS | {
        "dynamodb:GetItem"
    }
