"""Fixtures for the Lambda handler tests.

In Lambda the archive root is the handlers folder, so the handler modules import each other as
top-level modules; the same holds here by putting handlers/ on sys.path.

The AWS variables are set before any handler module is imported: Powertools reads its settings
at import, and fake credentials guarantee that nothing here can reach a real account.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HANDLERS_DIR = Path(__file__).resolve().parents[2] / "handlers"
if str(HANDLERS_DIR) not in sys.path:
    sys.path.insert(0, str(HANDLERS_DIR))

TEST_REGION = "eu-west-1"

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": TEST_REGION,
        "AWS_REGION": TEST_REGION,
        # Powertools' documented switch for tests: no X-Ray daemon here.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "task-app-tests",
        "POWERTOOLS_METRICS_NAMESPACE": "ResilientServerlessTests",
        "LOG_LEVEL": "INFO",
    }
)
for _variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
    os.environ.pop(_variable, None)

from handler_test_support import FakeLambdaContext, MotoResources, create_resources  # noqa: E402
from local_network import atomic_moto_server  # noqa: E402

import aws_clients  # noqa: E402  (needs the path and environment set above)
import downstream  # noqa: E402


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server on 127.0.0.1 for the module's tests over real HTTP (DynamoDB atomic)."""
    with atomic_moto_server() as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Each test builds its clients inside its own mock (or against its own endpoint), and
    starts with closed circuit breakers, as a new container would."""
    aws_clients.reset_clients()
    downstream.reset()
    yield
    aws_clients.reset_clients()
    downstream.reset()


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoResources]:
    """An in-process moto account with the tasks table and this region's work queue."""
    from moto import mock_aws

    with mock_aws():
        resources = create_resources(endpoint_url=None)
        monkeypatch.setenv("TABLE_NAME", resources.table_name)
        monkeypatch.setenv("QUEUE_URL", resources.queue_url)
        monkeypatch.setenv("TASK_TTL_SECONDS", "3600")
        yield resources


@pytest.fixture
def structured_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON log lines the handlers' Powertools logger writes during the test.

    Its handler holds the stdout that existed at import, which pytest's capsys cannot see, so
    the stream is swapped for a buffer for the test's duration.
    """
    import task_worker

    handler = task_worker.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    yield read
    if previous is not None:
        handler.setStream(previous)
