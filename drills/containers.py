"""Simulated Lambda containers: each a process of its own (as in Lambda) running its own copy
of a handler module, with its own module state and circuit breakers, one invocation at a time."""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import queue
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from . import HANDLERS_DIR
from .local_aws import Resources

#: What the handlers read at import: set before the first copy is loaded.
QUIET_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "drill",
    "POWERTOOLS_METRICS_NAMESPACE": "Drill",
    "LOG_LEVEL": "CRITICAL",
}


def prepare_environment(values: dict[str, str]) -> None:
    """Set what the handlers read (for a container process, for its whole life)."""
    os.environ.update({**QUIET_ENVIRONMENT, **values})
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE"):
        os.environ.pop(name, None)
    # Powertools' tracer logs a traced method's exception on the standard logger.
    logging.getLogger("aws_lambda_powertools").setLevel(logging.CRITICAL)


@contextmanager
def drill_process() -> Iterator[None]:
    """A drill run inside a longer-lived process (a test run): afterwards its environment,
    boto3 clients and circuit breakers are what they were, so nothing points at the drill's
    stopped moto server."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        import aws_clients
        import downstream

        aws_clients.reset_clients()
        downstream.reset()
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class Context:
    """The Lambda context: the remaining time runs down from `budget_s`."""

    budget_s: float
    started: float = field(default_factory=time.monotonic)
    function_name: str = "drill"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:drill"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return int((self.budget_s - (time.monotonic() - self.started)) * 1000)


class Container:
    """A container inside this process: its own copy of the handler module, its own breakers.

    At most one API container per process: Powertools' REST resolver keeps the current event on
    its base class (`BaseRouter`), shared by every copy of the module. The drills therefore run
    each container in a process of its own (`ProcessContainer`), as Lambda does.
    """

    def __init__(self, name: str, module: str, budget_s: float) -> None:
        self.name = name
        self.budget_s = budget_s
        spec = importlib.util.spec_from_file_location(
            f"{module}__{name}", HANDLERS_DIR / f"{module}.py"
        )
        assert spec is not None and spec.loader is not None
        self.module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = self.module  # dataclasses look their module up by name
        spec.loader.exec_module(self.module)
        self._lock = threading.Lock()  # one invocation at a time, as in Lambda
        self.invocations = 0
        #: Invocations that ran past their timeout (Lambda would have cut them off).
        self.overruns = 0

    def invoke(self, event: dict[str, Any]) -> Any:
        import downstream

        with self._lock, downstream.container(self.name):
            context = Context(self.budget_s)
            try:
                return self.module.handler(event, context)
            finally:
                self.invocations += 1
                if time.monotonic() - context.started > self.budget_s:
                    self.overruns += 1


def api_event(method: str, path: str, body: str | None, headers: dict[str, str]) -> dict[str, Any]:
    """An API Gateway REST proxy event."""
    resource = "/tasks/{taskId}" if path.count("/") == 2 else path
    parameters = {"taskId": path.rsplit("/", 1)[1]} if resource != path else None
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Host": "drill.example.com", **headers},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": parameters,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "v1",
            "path": f"/v1{path}",
            "domainName": "drill.example.com",
            "httpMethod": method,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS poller builds from a ReceiveMessage result."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


#: Lambda's SQS poller: records per batch, and how long it gathers a batch from the first
#: record (the stack's default `workerBatchingWindowSeconds` is 1 s, `workerBatchSize` 10).
BATCH_SIZE = 10
BATCHING_WINDOW_S = 1.0


def poll_queue(
    resources: Resources,
    workers: Sequence[Container | ProcessContainer],
    stop: threading.Event,
    batching_window_s: float = BATCHING_WINDOW_S,
) -> list[threading.Thread]:
    """Each worker container polls the queue as Lambda's poller does for it: a batch is
    gathered until it is full or the batching window has passed since its first record, so a
    record waits for its batch as in AWS (and may meet a fault that began meanwhile)."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    def receive(wait_s: int, room: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = resources.sqs.receive_message(
            QueueUrl=resources.queue_url,
            MaxNumberOfMessages=room,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        return messages

    def gather() -> list[dict[str, Any]]:
        messages = receive(1, BATCH_SIZE)
        closes_at = time.monotonic() + batching_window_s
        while messages and len(messages) < BATCH_SIZE and time.monotonic() < closes_at:
            more = receive(0, BATCH_SIZE - len(messages))
            messages += more
            if not more:
                time.sleep(min(0.1, max(0.0, closes_at - time.monotonic())))
        return messages

    def poll(container: Container | ProcessContainer) -> None:
        while not stop.is_set():
            messages = gather()
            if not messages:
                continue
            event = sqs_event(messages, resources.queue_arn, resources.region)
            try:
                response = container.invoke(event)
            except (BatchProcessingError, ContainerError):
                continue  # every record failed: all come back after the visibility timeout
            failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                resources.sqs.delete_message_batch(
                    QueueUrl=resources.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done)
                    ],
                )

    threads = [threading.Thread(target=poll, args=(worker,), daemon=True) for worker in workers]
    for thread in threads:
        thread.start()
    return threads


#: (table calls as (time, region), breaker events as (time, region, event), completed task ids)
Observations = tuple[list[tuple[float, str]], list[tuple[float, str, str]], list[str]]


class ContainerError(Exception):
    """The handler raised (Lambda reports a function error; API Gateway answers 502)."""


def _serve(
    connection: Any,
    name: str,
    module: str,
    budget_s: float,
    environment: dict[str, str],
    setup: Callable[..., Any],
    setup_args: tuple[Any, ...],
) -> None:
    """The child side of a ProcessContainer: one invocation per message, until None."""
    # The handlers print their EMF metrics to stdout, as in Lambda; the drill reports its own.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    prepare_environment(environment)
    recorder = setup(*setup_args)
    container = Container(name, module, budget_s)
    while True:
        event = connection.recv()
        if event is None:
            return
        overruns = container.overruns
        try:
            answer: Any = container.invoke(event)
        except Exception as error:  # a function error, reported to the caller
            answer = {"__error__": f"{type(error).__name__}: {error}"}
        connection.send((answer, container.overruns > overruns, recorder.take()))


class ProcessContainer:
    """A container in its own process, as in Lambda: nothing is shared with the others but the
    (local) AWS endpoint. Its botocore hooks and breaker events come back with each answer."""

    def __init__(
        self,
        name: str,
        module: str,
        budget_s: float,
        environment: dict[str, str],
        setup: Callable[..., Any],
        setup_args: tuple[Any, ...],
        on_observations: Callable[[Observations], None],
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, name, module, budget_s, environment, setup, setup_args),
            daemon=True,
        )
        self._process.start()
        self._lock = threading.Lock()
        self._on_observations = on_observations
        self.name = name
        self.invocations = 0
        self.overruns = 0

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            self._connection.send(event)
            answer, overran, observations = self._connection.recv()
        self.invocations += 1
        self.overruns += int(overran)
        self._on_observations(observations)
        if isinstance(answer, dict) and "__error__" in answer:
            raise ContainerError(answer["__error__"])
        return answer

    def close(self) -> None:
        with self._lock:
            self._connection.send(None)
        self._process.join(timeout=10)


class ContainerPool:
    """A function's containers: each invocation goes to the next idle one, and waits while all
    are busy (where Lambda would start another container), so a slow invocation holds up only
    its own container."""

    def __init__(self, containers: Sequence[ProcessContainer]) -> None:
        self.containers = list(containers)
        self._idle: queue.Queue[ProcessContainer] = queue.Queue()
        for container in self.containers:
            self._idle.put(container)

    def invoke(self, event: dict[str, Any]) -> Any:
        container = self._idle.get()
        try:
            return container.invoke(event)
        finally:
            self._idle.put(container)
