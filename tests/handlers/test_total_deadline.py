"""Every attempt of a downstream call ends by its total bound, however the answer arrives.

A server on 127.0.0.1 drips its HTTP answer one byte at a time, each byte well inside every read
timeout: botocore's per-read timeouts never fire, so only a bound on the whole attempt stops it.
Driven through `call_with_deadline` with the API's and the worker's profiles, and end to end
through the handlers with a dripping proxy in front of a moto server.
"""

from __future__ import annotations

import http.client
import json
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from handler_test_support import (
    REGION,
    FakeLambdaContext,
    MotoResources,
    call_api,
    create_resources,
    sqs_event,
    submit_event,
)
from local_network import reset_moto

import aws_clients
import fault_injection
import task_api
import task_worker
from aws_clients import CallProfile, Timeouts, client
from deadlines import Deadline, DeadlineExceeded, call_with_deadline

#: What an attempt may overrun its bound by: the watchdog's wake-up and the error's way back.
SLACK_S = 0.3
#: One byte this often: far inside the smallest read timeout (0.25 s), so no read times out.
DRIP_INTERVAL_S = 0.05
#: After this long the server sends the rest at once: an unbounded client finishes eventually
#: (and the reproduction shows how late), instead of hanging the test run.
DRIP_FOR_S = 8.0
#: A JSON answer long enough to take DRIP_FOR_S to drip (whitespace is valid JSON).
PADDED_EMPTY_OBJECT = b"{" + b" " * 400 + b"}"


def json_head(content_length: int) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
        b"Content-Length: " + str(content_length).encode() + b"\r\n\r\n"
    )


def drip(write: Any, answer: bytes, *, head_length: int = 0) -> None:
    """Write `answer`: its first `head_length` bytes at once, then a byte at a time."""
    write(answer[:head_length])
    started = time.monotonic()
    for index in range(head_length, len(answer)):
        if time.monotonic() - started > DRIP_FOR_S:
            write(answer[index:])
            return
        write(answer[index : index + 1])
        time.sleep(DRIP_INTERVAL_S)


@dataclass
class DripServer:
    """Answers every request with `answer`, dripped; counts the requests it read."""

    answer: bytes
    #: Bytes of the answer sent at once (the head, for "a body that never ends").
    head_length: int = 0
    #: False: answer as soon as a client connects (a TLS server speaks before any request).
    reads_requests: bool = True
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


def _read_request(stream: Any) -> bool:
    """Consume one HTTP request (head and Content-Length body); False at end of stream."""
    length = 0
    line = stream.readline()
    if not line:
        return False
    while line not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        line = stream.readline()
    stream.read(length)
    return True


@contextmanager
def drip_server(
    answer: bytes, head_length: int = 0, reads_requests: bool = True
) -> Iterator[DripServer]:
    state = DripServer(answer, head_length, reads_requests)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            # Keep-alive: serve requests on this connection until the client closes it (or
            # gives up in the middle of an answer, which ends the write with an OSError).
            with suppress(OSError):
                if not state.reads_requests:
                    with state.lock:
                        state.requests += 1
                    drip(self.wfile.write, state.answer, head_length=state.head_length)
                    return
                while _read_request(self.rfile):
                    with state.lock:
                        state.requests += 1
                    drip(self.wfile.write, state.answer, head_length=state.head_length)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


WHOLE_ANSWER_DRIPS = (json_head(len(PADDED_EMPTY_OBJECT)) + PADDED_EMPTY_OBJECT, 0)
# The head arrives at once and promises a megabyte; the body then trickles and never ends.
BODY_NEVER_ENDS = (json_head(1_000_000) + b"{" + b" " * 2_000, len(json_head(1_000_000)))


@pytest.mark.parametrize(
    ("answer", "head_length"),
    [WHOLE_ANSWER_DRIPS, BODY_NEVER_ENDS],
    ids=["whole-answer-drips", "body-never-ends"],
)
@pytest.mark.parametrize(
    ("profile", "budget_s"),
    [(CallProfile.REQUEST, 2.0), (CallProfile.BACKGROUND, 3.0)],
    ids=["api-profile", "worker-profile"],
)
def test_every_attempt_ends_within_its_bound_and_the_call_within_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
    answer: bytes,
    head_length: int,
    profile: CallProfile,
    budget_s: float,
) -> None:
    with drip_server(answer, head_length) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        attempts: list[tuple[Timeouts, float]] = []

        def attempt(timeouts: Timeouts) -> Any:
            dynamodb = client("dynamodb", REGION, profile, timeouts)  # built before the clock
            started = time.monotonic()
            try:
                return dynamodb.get_item(TableName="tasks", Key={"taskId": {"S": "t-1"}})
            finally:
                attempts.append((timeouts, time.monotonic() - started))

        started = time.monotonic()
        with pytest.raises(DeadlineExceeded) as raised:
            call_with_deadline(
                "table", "GetItem", attempt, profile=profile, deadline=Deadline.after(budget_s)
            )
        elapsed = time.monotonic() - started

    assert attempts and server.requests == len(attempts)
    for timeouts, seconds in attempts:
        assert seconds <= timeouts.worst_case_s + SLACK_S, (timeouts, seconds)
    assert elapsed <= budget_s + SLACK_S
    assert "cut off" in str(raised.value)


def test_a_tls_handshake_that_trickles_ends_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A TLS record header announcing 16 KiB of handshake, then its bytes one at a time: every
    # read of the handshake succeeds within the connect timeout, and the handshake never ends.
    # Python bounds the whole handshake by the connect timeout; this keeps that true.
    handshake = b"\x16\x03\x03\x40\x00" + b"\x00" * 16_384
    with drip_server(handshake, reads_requests=False) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url.replace("http://", "https://"))
        timeouts = Timeouts(0.5, 1.0)
        dynamodb = client("dynamodb", REGION, CallProfile.REQUEST, timeouts)
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):  # transient: retried while the deadline allows
            dynamodb.get_item(TableName="tasks", Key={"taskId": {"S": "t-1"}})
        elapsed = time.monotonic() - started
    assert server.requests == 1
    assert elapsed <= timeouts.worst_case_s + SLACK_S


def test_bounded_clients_start_no_thread_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = json_head(2) + b"{}"
    with drip_server(answer, head_length=len(answer)) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        dynamodb = client("dynamodb", REGION, CallProfile.REQUEST)
        dynamodb.get_item(TableName="tasks", Key={"taskId": {"S": "t-1"}})  # warm: one thread
        before = set(threading.enumerate())
        for number in range(50):
            dynamodb.get_item(TableName="tasks", Key={"taskId": {"S": f"t-{number}"}})
        started_since = set(threading.enumerate()) - before
    assert server.requests == 51
    assert started_since == set()
    watchdogs = [t for t in threading.enumerate() if t.name == aws_clients.WATCHDOG_THREAD_NAME]
    assert len(watchdogs) == 1


def test_fault_injection_still_answers_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An injected error must not reach the server; a lost reply reaches it once."""
    answer = json_head(2) + b"{}"
    config = {"enabled": True, "dependencies": {"table": {"errorRate": 1.0}}}
    with drip_server(answer, head_length=len(answer)) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        env = {
            "FAULT_INJECTION_ALLOWED": "true",
            "FAULT_INJECTION": json.dumps(config),
            "AWS_REGION": REGION,
        }
        try:
            injector = fault_injection.activate(env)
            assert injector is not None
            dynamodb = client("dynamodb", REGION, CallProfile.REQUEST)
            with pytest.raises(ClientError, match="InternalServerError"):
                dynamodb.get_item(TableName="tasks", Key={"taskId": {"S": "t-1"}})
            assert server.requests == 0

            aws_clients.reset_clients()
            lost = {"enabled": True, "dependencies": {"table": {"lostReplyRate": 1.0}}}
            assert fault_injection.activate({**env, "FAULT_INJECTION": json.dumps(lost)})
            dynamodb = client("dynamodb", REGION, CallProfile.REQUEST)
            with pytest.raises(ConnectionClosedError):
                dynamodb.get_item(TableName="tasks", Key={"taskId": {"S": "t-1"}})
            assert server.requests == 1
        finally:
            fault_injection._injector = None


def test_injected_latency_counts_against_the_attempts_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Failure injection's latency is slept before the send: it is part of the attempt."""
    answer, head_length = WHOLE_ANSWER_DRIPS
    config = {"enabled": True, "dependencies": {"table": {"latencyMs": 600}}}
    with drip_server(answer, head_length) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        env = {
            "FAULT_INJECTION_ALLOWED": "true",
            "FAULT_INJECTION": json.dumps(config),
            "AWS_REGION": REGION,
        }
        try:
            assert fault_injection.activate(env) is not None
            timeouts = Timeouts(0.5, 1.0)  # 600 ms is below the read timeout: slept, then sent
            dynamodb = client("dynamodb", REGION, CallProfile.REQUEST, timeouts)
            started = time.monotonic()
            with pytest.raises(aws_clients.AttemptCutOff):
                dynamodb.get_item(TableName="tasks", Key={"taskId": {"S": "t-1"}})
            elapsed = time.monotonic() - started
        finally:
            fault_injection._injector = None
    assert server.requests == 1
    assert 0.6 <= elapsed <= timeouts.worst_case_s + SLACK_S


# --- end to end: the handlers behind a dripping proxy in front of moto ----------------------


@dataclass
class DripProxy:
    upstream: str
    #: Operations (e.g. "SendMessage") whose answers are dripped; the rest pass at once.
    dripped: set[str] = field(default_factory=set)


def _proxy_handler(proxy: DripProxy) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = str(self.headers.get("X-Amz-Target", "")).rpartition(".")[2]
            upstream = http.client.HTTPConnection(target.netloc, timeout=30)
            upstream.request("POST", self.path, body=body, headers=dict(self.headers.items()))
            response = upstream.getresponse()
            payload = response.read()
            upstream.close()
            head = [f"HTTP/1.1 {response.status} {response.reason}"]
            head += [
                f"{key}: {value}"
                for key, value in response.getheaders()
                if key.lower() not in ("transfer-encoding", "connection", "content-length")
            ]
            head.append(f"Content-Length: {len(payload)}")
            answer = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload
            with suppress(OSError):  # the client gave up: what a cut-off attempt does
                if operation in proxy.dripped:
                    drip(self.wfile.write, answer)
                else:
                    self.wfile.write(answer)

    return Handler


@dataclass
class Network:
    resources: MotoResources
    proxy: DripProxy


@pytest.fixture
def network(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Network]:
    reset_moto(moto_url)
    resources = create_resources(endpoint_url=moto_url)
    proxy = DripProxy(moto_url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(proxy))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("TABLE_NAME", resources.table_name)
    monkeypatch.setenv("QUEUE_URL", resources.queue_url)
    try:
        yield Network(resources, proxy)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class RealTimeContext(FakeLambdaContext):
    """A Lambda context whose time runs out `budget_s` after it was made, in real time."""

    budget_s: float = 4.0
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.budget_s - (time.monotonic() - self.started)) * 1000)


SUM = {"taskType": "sum", "parameters": {"numbers": [2, 3]}}


def test_api_answers_503_in_time_when_the_send_drips(network: Network) -> None:
    # The case: SendMessage answering a byte at a time gave a 202 long after the
    # function's timeout. 4 s - 1 s margin - 0.5 s kept for marking the task.
    network.proxy.dripped.add("SendMessage")
    context = RealTimeContext(budget_s=4.0)
    answer = call_api(task_api.handler, context, submit_event(SUM))
    assert context.get_remaining_time_in_millis() > 0, "answered after Lambda's timeout"
    assert answer.status_code == 503, answer.body
    assert answer.body["error"] == "EnqueueFailed"
    assert answer.headers["Retry-After"] == task_api.RETRY_AFTER_S
    [item] = network.resources.items()
    assert item["status"]["S"] == "ENQUEUE_FAILED"  # never left PENDING


def test_api_answers_503_deadline_exceeded_when_the_write_drips(network: Network) -> None:
    # 2.7 s - 1 s margin: one PutItem at the (0.5 s, 1 s) tier, then no time for another.
    network.proxy.dripped.add("PutItem")
    context = RealTimeContext(budget_s=2.7)
    answer = call_api(task_api.handler, context, submit_event(SUM))
    assert context.get_remaining_time_in_millis() > 0, "answered after Lambda's timeout"
    assert answer.status_code == 503, answer.body
    assert answer.body["error"] == "DeadlineExceeded"
    assert answer.body["dependency"] == "table"
    assert answer.headers["Retry-After"] == task_api.RETRY_AFTER_S
    assert network.resources.messages_in_queue() == 0


def test_worker_fails_the_record_in_time_when_the_write_drips(network: Network) -> None:
    submitted = call_api(task_api.handler, FakeLambdaContext(), submit_event(SUM))
    assert submitted.status_code == 202, submitted.body
    messages = network.resources.receive_all(1)
    network.proxy.dripped.add("UpdateItem")
    # 4 s - 1 s margin: UpdateItem at the worker's (0.5 s, 1.25 s) tier, then a smaller one.
    context = RealTimeContext(budget_s=4.0)
    # Its only record failed: Powertools raises, so Lambda returns the whole batch to the queue.
    with pytest.raises(BatchProcessingError, match="All records failed"):
        task_worker.handler(sqs_event(messages, network.resources.queue_arn), context)
    assert context.get_remaining_time_in_millis() > 0, "finished after Lambda's timeout"
    # The proxy forwarded the write and only dripped its answer: it was applied, and the
    # redelivered record finds the task done.
    network.proxy.dripped.clear()
    again = task_worker.handler(
        sqs_event(messages, network.resources.queue_arn), FakeLambdaContext()
    )
    assert again["batchItemFailures"] == []
    [item] = network.resources.items()
    assert item["status"]["S"] == "SUCCEEDED"
