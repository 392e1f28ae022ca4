"""The live game day (`python -m drills gameday --live`) against a "deployed stack" on 127.0.0.1:
a moto server holding two regions' resources and fault parameters, each region's handlers in
containers behind an HTTP server (API keys, as staging), and the service's name resolved by a
getaddrinfo that answers what the test's own Route53 (health checks over HTTP) decides."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drills import gameday, live, local_aws
from drills.__main__ import main
from drills.containers import ContainerPool, ProcessContainer, drill_process, poll_queue
from drills.dns import Clock, HealthChecks, Resolver, StackSettings, Throttle
from drills.gateway import DRILL_CREDENTIALS, OPEN_ROUTES, Denial, LocalGateway
from drills.replication import Replicator, enable_streams
from tools.signed_call import HttpAnswer, Transport, urllib_transport

REGIONS = ("us-east-2", "us-west-2")
HOST = "tasks.staging.test"
API_KEY = "staging-test-key"
#: A well-formed task id no table holds: an authorized GET of it answers 404.
MISSING = f"/tasks/{uuid.UUID(int=7, version=4)}"
#: Nominal failover 1 s x 2 + 1 s: a scenario's timeline lasts seconds, not minutes.
SETTINGS = StackSettings(
    regions=REGIONS,
    health_paths={region: "/v1/health" for region in REGIONS},
    interval_s=1.0,
    failure_threshold=2,
    record_type="CNAME",
    ttl_s=1.0,
    checker_regions=("us-east-1", "eu-west-1", "ap-southeast-1"),
    throttles={region: {"*/*": Throttle(100.0, 200)} for region in REGIONS},
)
OPTIONS = gameday.Options(
    tasks=12,
    scenarios=("region-api-down",),
    compression=1.0,
    before_s=1.5,
    fault_s=5.0,
    after_s=1.5,
    drain_s=12.0,
    client_timeout_s=3.0,
    poll_s=0.5,
    client_lost_reply_rate=0.0,
)
STACK_CONFIG = """config:
  resilient-serverless:regions: [us-east-2, us-west-2]
  resilient-serverless:faultInjectionAllowed: {allowed}
  resilient-serverless:apiAuthorization: {authorization}
"""


class StackGateway(LocalGateway):
    """A region's API Gateway stage: the health routes open, the others need the API key."""

    def authorize(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Denial | None:
        route = self.route(url) or ""
        if (method, route) in OPEN_ROUTES:
            return None
        if self.api_key is None:
            return super().authorize(method, url, headers, body)  # SigV4
        sent = {key.lower(): value for key, value in headers.items()}.get("x-api-key")
        return None if sent == self.api_key else Denial("ForbiddenException", "Forbidden", 403)

    api_key: str | None = API_KEY

    def requires_api_key(self) -> bool:
        return self.api_key is not None


def _serve(gateway: StackGateway, pool: ContainerPool) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            url = f"http://{self.headers.get('Host')}{self.path}"
            answer = gateway.handle(pool.invoke, self.command, url, dict(self.headers), body)
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                if key not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Deployed:
    moto: str
    endpoints: dict[str, str]
    gateways: dict[str, StackGateway]
    resolver: Resolver
    project: Path
    outputs: Path

    def ssm(self, region: str) -> Any:
        return boto3.client(
            "ssm", region_name=region, endpoint_url=self.moto, **local_aws.CREDENTIALS
        )

    def value(self, region: str) -> str:
        name = f"/tasks/{region}/fault-injection"
        return str(self.ssm(region).get_parameter(Name=name)["Parameter"]["Value"])

    def getaddrinfo(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        """The name's CNAME points at the regional domain of the region Route53 picks."""
        assert host == HOST  # the only name a client of the stack looks up
        region = self.resolver.resolve(REGIONS).region
        canonical = f"d-{region}.execute-api.{region}.amazonaws.com"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, canonical, ("127.0.0.1", port))]

    def stack(self, name: str = "staging") -> live.LiveStack:
        return live.load_stack(self.project, name, self.outputs)

    def network(self, transport_for: Any = urllib_transport) -> live.LiveNetwork:
        return live.LiveNetwork(
            self.stack(), API_KEY, getaddrinfo=self.getaddrinfo, transport_for=transport_for
        )


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    project = tmp_path_factory.mktemp("project")
    for stack, allowed, authorization in (
        ("staging", "true", "apiKey"),
        ("prod", None, "iam"),
        ("nofaults", "false", "apiKey"),
    ):
        text = STACK_CONFIG.format(allowed=allowed, authorization=authorization)
        if allowed is None:
            text = "\n".join(line for line in text.splitlines() if "faultInjection" not in line)
        (project / f"Pulumi.{stack}.yaml").write_text(text + "\n", encoding="utf-8")
    stop = threading.Event()
    with drill_process(), local_aws.moto_server() as url:
        containers: list[ProcessContainer] = []
        servers: list[ThreadingHTTPServer] = []
        pollers: list[threading.Thread] = []
        endpoints: dict[str, str] = {}
        gateways: dict[str, StackGateway] = {}
        made = {region: local_aws.create(url, region) for region in REGIONS}
        enable_streams(url, REGIONS)
        replicator = Replicator(url, REGIONS, 0.2)
        replicator.start()
        observed = gameday.Observed()
        for region in REGIONS:
            parameter = f"/tasks/{region}/fault-injection"
            ssm = boto3.client("ssm", region_name=region, endpoint_url=url, **local_aws.CREDENTIALS)
            ssm.put_parameter(Name=parameter, Value=gameday.NO_FAULT, Type="String")
            environment = {
                **gameday._environment(url, region, OPTIONS, made[region]),
                "FAULT_INJECTION_PARAMETER": parameter,
            }
            api, worker = (
                ProcessContainer(
                    f"live-{region}-{module}",
                    module,
                    budget,
                    environment,
                    gameday._container_setup,
                    (url, region, REGIONS, False),
                    observed.collect,
                )
                for module, budget in (("task_api", 3.0), ("task_worker", 4.0))
            )
            containers += [api, worker]
            pollers += poll_queue(made[region], [worker], stop)
            gateways[region] = StackGateway(region, base_url="https://stage.test/v1")
            server = _serve(gateways[region], ContainerPool([api]))
            servers.append(server)
            endpoints[region] = f"http://127.0.0.1:{server.server_port}/v1"

        def probe(region: str, timeout: float) -> bool:
            try:
                with urllib.request.urlopen(f"{endpoints[region]}/health", timeout=timeout):
                    return True
            except (urllib.error.URLError, OSError):
                return False

        checks = HealthChecks(SETTINGS, probe, Clock(1.0))
        checks.start()
        outputs = project / "outputs.json"
        outputs.write_text(
            json.dumps(
                {"url": f"https://{HOST}", "regions": list(REGIONS), "regionalEndpoints": endpoints}
            ),
            encoding="utf-8",
        )
        try:
            yield Deployed(url, endpoints, gateways, Resolver(checks, 1.0), project, outputs)
        finally:
            checks.stop()
            stop.set()
            replicator.stop()
            for server in servers:
                server.shutdown()
                server.server_close()
            for container in containers:
                container.close()


def _parameters(deployed: Deployed) -> live.FaultParameters:
    return live.FaultParameters(deployed.stack(), deployed.ssm)


class Puts:
    """Every value written to the fault parameters, in order (a spy on the SSM client)."""

    def __init__(self, deployed: Deployed) -> None:
        self.deployed = deployed
        self.values: list[tuple[str, str]] = []

    def __call__(self, region: str) -> Any:
        client = self.deployed.ssm(region)
        put = client.put_parameter

        def spy(**kwargs: Any) -> Any:
            self.values.append((region, kwargs["Value"]))
            return put(**kwargs)

        client.put_parameter = spy
        return client


def test_a_dry_run_prints_the_plan_and_changes_nothing(deployed: Deployed, tmp_path: Path) -> None:
    said: list[str] = []
    puts = Puts(deployed)
    restore = tmp_path / "restore.json"
    options = replace(OPTIONS, scenarios=gameday.SCENARIOS)
    result = live.run(
        options,
        deployed.stack(),
        SETTINGS,
        deployed.network(),
        live.FaultParameters(deployed.stack(), puts),
        restore,
        dry_run=True,
        say=said.append,
    )
    text = "\n".join(said)
    assert result is None and puts.values == [] and not restore.exists()
    assert '/tasks/us-east-2/fault-injection = {"enabled": true, "api": {"statusCode": 503' in text
    assert "skip region-black-hole (local only)" in text and "skip health-flood" in text
    assert "nominal failover 3 s" in text and "36 tasks submitted" in text
    assert f"now /tasks/us-west-2/fault-injection = {gameday.NO_FAULT}" in text
    assert text.endswith("dry run: nothing was changed")


def test_region_api_down_writes_the_parameter_measures_the_rto_and_restores(
    deployed: Deployed, tmp_path: Path
) -> None:
    puts = Puts(deployed)
    restore = tmp_path / "restore.json"
    seen_restore_file: list[bool] = []
    network = deployed.network()
    parameters = live.FaultParameters(deployed.stack(), puts)
    set_fault = parameters.set_fault

    def set_fault_after_the_restore_file(region: str, fault: Mapping[str, Any]) -> None:
        seen_restore_file.append(restore.is_file())
        set_fault(region, fault)

    parameters.set_fault = set_fault_after_the_restore_file
    result = live.run(OPTIONS, deployed.stack(), SETTINGS, network, parameters, restore)
    assert result is not None
    entry = result["scenarios"][0]
    assert seen_restore_file == [True]  # the old values were on disk before the write
    assert [value for _, value in puts.values] == [
        json.dumps({"enabled": True, "api": {"statusCode": 503, "rate": 1.0}}),
        gameday.NO_FAULT,
    ]
    assert {region for region, _ in puts.values} == {"us-east-2"}
    assert deployed.value("us-east-2") == gameday.NO_FAULT and not restore.exists()
    # Clients were refused in the faulted region, then served by the other one.
    assert entry["failed_calls"] > 0 and set(entry["calls_by_region"]) == set(REGIONS)
    assert 0 < entry["rto_seconds"] <= 1.5 * entry["nominal_failover_seconds"], entry
    assert entry["tasks_accepted"] == OPTIONS.tasks and entry["tasks_unfinished"] == 0, entry


def test_an_interrupt_still_restores_the_parameter(deployed: Deployed, tmp_path: Path) -> None:
    restore = tmp_path / "restore.json"
    sent = threading.Event()

    def interrupting(timeout_s: float) -> Transport:
        send = urllib_transport(timeout_s)

        def hooked(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Any:
            answer: HttpAnswer = send(method, url, headers, body)
            if answer.status == 503 and not sent.is_set():  # the fault is on: Ctrl-C
                sent.set()
                os.kill(os.getpid(), signal.SIGINT)
            return answer

        return hooked

    with pytest.raises(KeyboardInterrupt):
        live.run(
            OPTIONS,
            deployed.stack(),
            SETTINGS,
            deployed.network(interrupting),
            _parameters(deployed),
            restore,
            say=lambda line: None,
        )
    assert sent.is_set()
    assert deployed.value("us-east-2") == gameday.NO_FAULT and not restore.exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_restore_puts_a_crashed_run_s_values_back(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parameters = _parameters(deployed)
    saved = parameters.read()
    restore = tmp_path / "restore.json"
    live.write_restore_file(restore, "staging", saved)
    parameters.set_fault("us-west-2", gameday.SSM_FAULTS["region-dynamodb-errors"])
    assert '"errorRate": 1.0' in deployed.value("us-west-2")
    # A run now refuses to start: a fault is already on.
    with pytest.raises(live.LiveError, match="has a fault on"):
        _parameters(deployed).read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", deployed.moto)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert main(["gameday", "--restore", str(restore)]) == 0
    assert [deployed.value(region) for region in REGIONS] == [gameday.NO_FAULT] * 2


def test_requests_are_signed_for_the_region_on_an_iam_stack(deployed: Deployed) -> None:
    stack = replace(deployed.stack(), authorization="iam")
    network = live.LiveNetwork(
        stack, credentials=DRILL_CREDENTIALS, getaddrinfo=deployed.getaddrinfo
    )
    gateway = deployed.gateways["us-west-2"]
    gateway.api_key = None
    try:
        answer = network.send("us-west-2", "GET", MISSING, None, {}, 5.0)
        assert answer.status == 404  # authorized, and not there
        assert network.resolve() in REGIONS
    finally:
        gateway.api_key = API_KEY
    keyed = deployed.network().send("us-west-2", "GET", MISSING, None, {}, 5.0)
    assert keyed.status == 404
    unkeyed = live.LiveNetwork(deployed.stack(), "wrong", getaddrinfo=deployed.getaddrinfo)
    assert unkeyed.send("us-west-2", "GET", MISSING, None, {}, 5.0).status == 403


def test_prod_needs_the_flag_twice(deployed: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    prod = deployed.stack("prod")
    for times in (0, 1):
        with pytest.raises(live.LiveError, match="--i-mean-prod given twice"):
            live.check_allowed(prod, times)
    live.check_allowed(prod, 2)
    # A stack of any name whose config does not say is protected too.
    with pytest.raises(live.LiveError, match="does not set resilient-serverless:faultInjection"):
        live.check_allowed(replace(prod, name="qa"), 1)
    argv = ["gameday", "--live", "--stack", "prod", "--project", str(deployed.project)]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--outputs", str(deployed.outputs), "--i-mean-prod", "--dry-run"])
    assert exited.value.code == 2
    assert "--i-mean-prod given twice" in capsys.readouterr().err


def test_a_stack_without_fault_injection_is_refused(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["gameday", "--live", "--stack", "nofaults", "--project", str(deployed.project)]
    with pytest.raises(SystemExit):
        main([*argv, "--outputs", str(deployed.outputs), "--i-mean-prod", "--i-mean-prod"])
    error = capsys.readouterr().err
    assert "resilient-serverless:faultInjectionAllowed: false" in error
    assert "pulumi config set faultInjectionAllowed true --stack nofaults" in error


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--dry-run"], "--dry-run is for --live"),
        (["--live", "--compression", "5"], "--compression is for the local game day"),
        (["--live", "--outputs", "missing.json"], "--outputs missing.json"),
        (["--live", "--stack", "nowhere"], "--stack nowhere"),
        (["--restore", "missing.json"], "--restore missing.json"),
    ],
)
def test_bad_arguments_name_the_option(
    deployed: Deployed, extra: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["gameday", "--project", str(deployed.project), *extra])
    assert exited.value.code == 2 and named in capsys.readouterr().err


def test_the_api_key_comes_from_a_file_or_the_environment(
    deployed: Deployed, tmp_path: Path
) -> None:
    stack = deployed.stack()
    key_file = tmp_path / "key"
    key_file.write_text(f"{API_KEY}\n", encoding="utf-8")
    assert live.api_key(stack, key_file, {}) == API_KEY
    assert live.api_key(stack, None, {live.API_KEY_ENV: API_KEY}) == API_KEY
    with pytest.raises(live.LiveError, match="--api-key-file FILE or \\$GAMEDAY_API_KEY"):
        live.api_key(stack, None, {})
    with pytest.raises(live.LiveError, match="expected an https:// URL"):
        live._endpoint("us-east-2", "http://tasks.example.com/v1")
