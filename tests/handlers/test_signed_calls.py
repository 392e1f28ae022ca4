"""IAM (SigV4) authorization: the local API Gateway the drills use checks signatures for real,
and `tools.signed_call` signs for the region that serves the call, learning it again once when
the latency-routed name moves to another region.

The API behind the gateway is the real `task_api` handler on in-process moto.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials
from handler_test_support import DEFAULT_CALLER_ARN, FakeLambdaContext, MotoResources

import task_api
from task_model import parse_task_id

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drills.gateway import (
    BASE_URL,
    DRILL_CREDENTIALS,
    SIGNATURE_MISMATCH,
    Backend,
    LocalGateway,
)
from tools import signed_call
from tools.signed_call import HttpAnswer, SignedCallError, SignedClient, health_url, sign

SUM_REQUEST = json.dumps({"taskType": "sum", "parameters": {"numbers": [1, 2, 3]}})
WRONG_REGION = "Credential should be scoped to a valid region, not 'us-east-1'. "


class CountingBackend:
    """The API function: the real handler, counting its invocations."""

    def __init__(self, environment: dict[str, str] | None = None) -> None:
        self.environment = environment or {}
        self.invocations = 0

    def __call__(self, event: dict[str, Any]) -> Any:
        self.invocations += 1
        saved = {name: os.environ.get(name) for name in self.environment}
        os.environ.update(self.environment)
        try:
            return task_api.handler(event, FakeLambdaContext())
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture
def backend(aws: MotoResources) -> CountingBackend:
    return CountingBackend()


@pytest.fixture
def gateway() -> LocalGateway:
    return LocalGateway("eu-west-1")


def _send(
    gateway: LocalGateway,
    backend: Backend,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
) -> HttpAnswer:
    return gateway.handle(backend, method, BASE_URL + path, headers, body)


def _signed(
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    region: str = "eu-west-1",
    credentials: Any = DRILL_CREDENTIALS,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    base = {"Content-Type": "application/json", **(headers or {})}
    return sign(method, BASE_URL + path, base, body, region=region, credentials=credentials)


# --- The gateway -----------------------------------------------------------------------------


def test_signed_calls_reach_the_function(
    aws: MotoResources, gateway: LocalGateway, backend: CountingBackend
) -> None:
    client = SignedClient(credentials=DRILL_CREDENTIALS, transport=gateway.transport(backend))

    submitted = client.call("POST", f"{BASE_URL}/tasks", SUM_REQUEST)
    assert submitted.status == 202, submitted.body
    status_url = submitted.json()["statusUrl"]
    assert status_url.startswith(f"{BASE_URL}/tasks/eu-west-1.")
    polled = client.call("GET", status_url)

    assert polled.status == 200
    assert polled.json()["taskId"] == submitted.json()["taskId"]
    assert client.region_lookups == 1  # learned once, from GET /health
    assert backend.invocations == 3
    assert gateway.denied == {}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/tasks", SUM_REQUEST.encode()),
        ("GET", "/tasks/0f8fad5b-d9cb-469f-a165-70867728950e", None),
        ("GET", "/nowhere", None),
    ],
)
def test_unsigned_requests_are_refused_before_the_function(
    aws: MotoResources,
    gateway: LocalGateway,
    backend: CountingBackend,
    method: str,
    path: str,
    body: bytes | None,
) -> None:
    answer = _send(gateway, backend, method, path, {"Content-Type": "application/json"}, body)
    assert answer.status == 403
    assert answer.json() == {"message": "Missing Authentication Token"}
    assert answer.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert backend.invocations == 0
    assert aws.items() == []


def test_health_stays_open_and_names_the_region(
    gateway: LocalGateway, backend: CountingBackend
) -> None:
    answer = _send(gateway, backend, "GET", "/health", {})
    assert answer.status == 200
    assert answer.json()["region"] == "eu-west-1"


def test_a_tampered_body_is_refused(
    aws: MotoResources, gateway: LocalGateway, backend: CountingBackend
) -> None:
    headers = _signed("POST", "/tasks", SUM_REQUEST.encode())
    tampered = SUM_REQUEST.replace("[1, 2, 3]", "[1, 2, 4]").encode()

    answer = _send(gateway, backend, "POST", "/tasks", headers, tampered)

    assert answer.status == 403
    assert answer.json() == {"message": SIGNATURE_MISMATCH}
    assert answer.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert backend.invocations == 0
    assert aws.items() == []
    # The same signature with the body it covers passes.
    assert _send(gateway, backend, "POST", "/tasks", headers, SUM_REQUEST.encode()).status == 202


def test_a_tampered_signed_header_or_path_is_refused(
    gateway: LocalGateway, backend: CountingBackend
) -> None:
    headers = _signed(
        "POST", "/tasks", SUM_REQUEST.encode(), headers={"Idempotency-Key": "order-1"}
    )
    other_key = {**headers, "Idempotency-Key": "order-2"}
    assert _send(gateway, backend, "POST", "/tasks", other_key, SUM_REQUEST.encode()).json() == {
        "message": SIGNATURE_MISMATCH
    }
    key = "0f8fad5b-d9cb-469f-a165-70867728950e"
    for_one = _signed("GET", f"/tasks/{key}")
    other = _send(gateway, backend, "GET", "/tasks/7c9e6679-7425-40de-944b-e07fc1f90ae7", for_one)
    assert other.json() == {"message": SIGNATURE_MISMATCH}
    assert backend.invocations == 0


def test_wrong_credentials_are_refused(gateway: LocalGateway, backend: CountingBackend) -> None:
    wrong_secret = _signed("GET", "/tasks/x", credentials=Credentials("testing", "not-it"))
    assert _send(gateway, backend, "GET", "/tasks/x", wrong_secret).json() == {
        "message": SIGNATURE_MISMATCH
    }
    unknown = _signed("GET", "/tasks/x", credentials=Credentials("AKIDUNKNOWN", "testing"))
    answer = _send(gateway, backend, "GET", "/tasks/x", unknown)
    assert answer.status == 403
    assert answer.json() == {"message": "The security token included in the request is invalid."}
    assert backend.invocations == 0


def test_a_signature_for_another_region_is_refused(
    gateway: LocalGateway, backend: CountingBackend
) -> None:
    headers = _signed("GET", "/tasks/x", region="us-east-1")
    answer = _send(gateway, backend, "GET", "/tasks/x", headers)
    assert answer.status == 403
    assert answer.json() == {"message": WRONG_REGION}
    assert signed_call.is_wrong_region(answer)
    assert backend.invocations == 0


def test_an_old_signature_is_refused(backend: CountingBackend) -> None:
    later = LocalGateway("eu-west-1", clock=lambda: datetime.now(UTC) + timedelta(minutes=6))
    answer = _send(later, backend, "GET", "/tasks/x", _signed("GET", "/tasks/x"))
    assert answer.status == 403
    assert answer.json()["message"].startswith("Signature expired: ")
    assert backend.invocations == 0


# --- Over HTTP: a latency-routed name in front of two regions ---------------------------------


class LatencyRoutedName:
    """One URL whose requests one region's gateway answers: `serving` says which, as DNS
    latency routing would (and changes it when the test moves the client)."""

    def __init__(self) -> None:
        self.regions: dict[str, tuple[LocalGateway, Backend]] = {}
        self.serving = "eu-west-1"
        self.health_checks = 0
        self.url = ""

    def handle(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> HttpAnswer:
        gateway, backend = self.regions[self.serving]
        if url.endswith("/health"):
            self.health_checks += 1
        return gateway.handle(backend, method, url, headers, body)


def _http_handler(name: LatencyRoutedName) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            url = f"http://{self.headers['Host']}{self.path}"
            answer = name.handle(self.command, url, dict(self.headers.items()), body)
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                if key != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _serve

    return Handler


@contextmanager
def serve(name: LatencyRoutedName) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _http_handler(name))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _printed_answer(out: str) -> Any:
    """The answer the command printed: its last top-level JSON document (the handlers, running
    in this process, print their metrics to the same stdout before it)."""
    lines = out.splitlines()
    start = max(index for index, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


@pytest.fixture
def two_regions(aws: MotoResources) -> Iterator[tuple[LatencyRoutedName, Any]]:
    """The API in eu-west-1 and us-east-1 behind one name; yields it and us-east-1's table."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName=aws.table_name,
        AttributeDefinitions=[{"AttributeName": "taskId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "taskId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="work")[
        "QueueUrl"
    ]
    name = LatencyRoutedName()
    # Whatever the standard chain gives here (the mock's own credentials).
    known = (signed_call.default_credentials().get_frozen_credentials(),)
    # The principal API Gateway names for requests signed with them.
    principals = {known[0].access_key: DEFAULT_CALLER_ARN}
    with serve(name) as url:
        name.url = f"{url}/v1"
        name.regions = {
            "eu-west-1": (
                LocalGateway("eu-west-1", base_url=name.url, known=known, principals=principals),
                CountingBackend(),
            ),
            "us-east-1": (
                LocalGateway("us-east-1", base_url=name.url, known=known, principals=principals),
                CountingBackend({"AWS_REGION": "us-east-1", "QUEUE_URL": queue_url}),
            ),
        }
        yield name, dynamodb


def test_a_moved_name_is_learned_again_once_and_the_call_repeated(
    aws: MotoResources, two_regions: tuple[LatencyRoutedName, Any]
) -> None:
    name, us_east_table = two_regions
    client = SignedClient()  # the standard credential chain, HTTP

    submitted = client.call("POST", f"{name.url}/tasks", SUM_REQUEST)
    assert submitted.status == 202, submitted.body
    task_id = submitted.json()["taskId"]
    assert parse_task_id(task_id).region == "eu-west-1"
    assert (client.region_lookups, name.health_checks) == (1, 1)

    name.serving = "us-east-1"  # latency routing now sends this client to us-east-1
    early = client.call("GET", f"{name.url}/tasks/{task_id}")

    # Refused once (signed for eu-west-1), learned again, repeated: us-east-1 answers, and
    # has not received the task yet.
    assert name.regions["us-east-1"][0].denied == {"InvalidSignatureException": 1}
    assert (client.region_lookups, name.health_checks) == (2, 2)
    assert early.status == 404
    assert early.headers["retry-after"] == "2"
    assert early.json()["error"] == "TaskNotReplicatedYet"
    assert early.json()["writtenInRegion"] == "eu-west-1"

    item = aws.item(task_id)
    assert item is not None
    us_east_table.put_item(TableName=aws.table_name, Item=item)  # replicated
    later = client.call("GET", f"{name.url}/tasks/{task_id}")
    assert later.status == 200
    assert later.json()["taskId"] == task_id
    assert client.region_lookups == 2  # the region it learned still holds

    name.serving = "eu-west-1"  # and back: a POST is refused once, then accepted
    moved_back = client.call("POST", f"{name.url}/tasks", SUM_REQUEST.replace("3]", "4]"))
    assert moved_back.status == 202, moved_back.body
    assert parse_task_id(moved_back.json()["taskId"]).region == "eu-west-1"
    assert name.regions["eu-west-1"][0].denied == {"InvalidSignatureException": 1}
    assert client.region_lookups == 3


def test_a_refusal_that_learning_cannot_fix_is_returned_after_one_try(
    two_regions: tuple[LatencyRoutedName, Any],
) -> None:
    name, _ = two_regions
    gateway, backend = name.regions["eu-west-1"]
    # A gateway whose health route names another region than the one it checks for.
    name.regions["eu-west-1"] = (
        LocalGateway("ap-southeast-2", base_url=name.url, known=gateway.known),
        backend,
    )
    client = SignedClient()
    answer = client.call("GET", f"{name.url}/tasks/0f8fad5b-d9cb-469f-a165-70867728950e")
    assert answer.status == 403
    assert signed_call.is_wrong_region(answer)
    assert client.region_lookups == 2  # learned, refused, learned again: the same region


def test_the_command_line_signs_learns_and_prints(
    two_regions: tuple[LatencyRoutedName, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    name, _ = two_regions
    code = signed_call.main(
        ["post", f"{name.url}/tasks", "--data", SUM_REQUEST, "-H", "Idempotency-Key: order-5"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "HTTP 202 (signed for eu-west-1)" in err
    task_id = _printed_answer(out)["taskId"]

    again = signed_call.main(
        ["POST", f"{name.url}/tasks", "--data", SUM_REQUEST, "--header", "Idempotency-Key: order-5"]
    )
    out, _ = capsys.readouterr()
    assert again == 0
    assert _printed_answer(out)["taskId"] == task_id

    # An explicit --region is used as given: no learning, no repeat, and a hint on stderr.
    checks = name.health_checks
    wrong = signed_call.main(["GET", f"{name.url}/tasks/{task_id}", "--region", "us-east-1"])
    out, err = capsys.readouterr()
    assert wrong == 1
    assert _printed_answer(out) == {"message": WRONG_REGION}
    assert "does not serve us-east-1" in err and "--region" in err
    assert name.health_checks == checks


@pytest.mark.parametrize(
    ("argv", "named", "fix"),
    [
        (["FETCH", "https://tasks.example.com/x"], "METHOD", "expected one of GET, POST"),
        (["GET", "tasks.example.com/tasks"], "URL", "such as https://tasks.example.com/tasks"),
        (["POST", "https://t.example.com/tasks", "--data", "{taskType: 1}"], "--data", "@FILE"),
        (
            ["POST", "https://t.example.com/tasks", "--data", "@/no/such.json"],
            "--data",
            "cannot read",
        ),
        (["GET", "https://t.example.com/tasks/x", "--data", "{}"], "--data", "use POST"),
        (["GET", "https://t.example.com/tasks", "--region", "Europe"], "--region", "eu-west-1"),
        (
            ["GET", "https://t.example.com/tasks", "--header", "Idempotency-Key"],
            "--header",
            "'Name: value'",
        ),
        (["GET", "https://t.example.com/tasks", "--timeout", "0"], "--timeout", "0 to 900"),
    ],
)
def test_bad_arguments_name_the_flag_and_the_fix(
    argv: list[str], named: str, fix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        signed_call.main(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert named in err
    assert fix in err


def test_no_credentials_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert signed_call.main(["GET", "https://tasks.example.com/tasks/x"]) == 1
    err = capsys.readouterr().err
    assert "no AWS credentials found" in err and "AWS_PROFILE" in err


def test_an_unreachable_endpoint_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(LatencyRoutedName()) as url:
        closed = url  # the server stops when the block ends: nothing listens there afterwards
    assert signed_call.main(["GET", f"{closed}/tasks/x"]) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_a_health_route_without_a_region_asks_for_region() -> None:
    def no_region(method: str, url: str, headers: Any, body: bytes | None) -> HttpAnswer:
        return HttpAnswer(200, {}, b'{"status": "healthy"}')

    with pytest.raises(SignedCallError, match="--region"):
        SignedClient(credentials=DRILL_CREDENTIALS, transport=no_region).call(
            "GET", "https://tasks.example.com/tasks/x"
        )


@pytest.mark.parametrize(
    ("url", "health"),
    [
        ("https://tasks.example.com/tasks", "https://tasks.example.com/health"),
        ("https://tasks.example.com/v1/tasks/eu-west-1.1.x", "https://tasks.example.com/v1/health"),
        (
            "https://a1b2.execute-api.eu-west-1.amazonaws.com/prod/tasks",
            "https://a1b2.execute-api.eu-west-1.amazonaws.com/prod/health",
        ),
        ("https://tasks.example.com/v1/health", "https://tasks.example.com/v1/health"),
        ("https://tasks.example.com/v1", "https://tasks.example.com/v1/health"),
        ("https://tasks.example.com/v1/bookings/b-1", "https://tasks.example.com/v1/health"),
        ("https://tasks.example.com", "https://tasks.example.com/health"),
        ("http://127.0.0.1:8080/v1/tasks?x=1", "http://127.0.0.1:8080/v1/health"),
    ],
)
def test_health_url(url: str, health: str) -> None:
    assert health_url(url) == health


def test_temporary_credentials_sign_their_token() -> None:
    headers = sign(
        "GET",
        "https://tasks.example.com/tasks/x",
        {},
        None,
        region="eu-west-1",
        credentials=Credentials("AKID", "secret", "token-1"),
    )
    assert headers["X-Amz-Security-Token"] == "token-1"
    assert "x-amz-security-token" in headers["Authorization"]
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert headers["Host"] == "tasks.example.com"


def test_api_keys_are_one_value_or_one_per_region(tmp_path: Path) -> None:
    shared = signed_call.parse_api_keys("abc123\n", "file")
    assert shared.for_region("eu-west-1") == shared.for_region(None) == "abc123"
    per_region = signed_call.parse_api_keys('{"eu-west-1": "k1", "us-east-1": "k2"}', "file")
    assert per_region.per_region and per_region.for_region("us-east-1") == "k2"
    with pytest.raises(SignedCallError, match='add "ap-south-1"'):
        per_region.for_region("ap-south-1")
    for bad in ("", "two words", '{"nowhere": "k"}', '{"eu-west-1": ""}'):
        with pytest.raises(SignedCallError, match="file"):
            signed_call.parse_api_keys(bad, "file")
    key_file = tmp_path / "key"
    key_file.write_text("from-file")
    env = {signed_call.API_KEY_ENV: "from-env"}
    assert signed_call.read_api_keys(key_file, env) == signed_call.ApiKeys(shared="from-file")
    assert signed_call.read_api_keys(None, env) == signed_call.ApiKeys(shared="from-env")
    assert signed_call.read_api_keys(None, {}) is None


def test_a_signed_call_sends_the_key_of_the_region_it_signs_for(
    backend: CountingBackend,
) -> None:
    """iam+apiKey with a key of a value per region: each region's gateway knows its own value;
    the client signs AND sends the value of the region it learned."""
    gateway = LocalGateway("eu-west-1", api_keys=("eu-value", "another-regions-value"))
    send = gateway.transport(backend)
    keys = signed_call.ApiKeys(by_region={"eu-west-1": "eu-value", "us-east-1": "us-value"})
    client = SignedClient(credentials=DRILL_CREDENTIALS, transport=send, api_keys=keys)
    answer = client.call("POST", f"{BASE_URL}/tasks", SUM_REQUEST)
    assert answer.status == 202, answer.body
    # Without the key: signed, and refused as API Gateway refuses a missing key.
    unkeyed = SignedClient(credentials=DRILL_CREDENTIALS, transport=send)
    refused = unkeyed.call("POST", f"{BASE_URL}/tasks", SUM_REQUEST)
    assert (refused.status, refused.message()) == (403, "Forbidden")
    assert gateway.denied == {"ForbiddenException": 1}
