"""The game day against a deployed stack: `python -m drills gameday --live --stack staging`.

The scenarios, clients, ledger, figures and verdicts are the local game day's (`gameday`); only
the world differs (`gameday.Network`):

- the service's name is resolved with real lookups (`socket.getaddrinfo`, injectable): the
  canonical name (a CNAME's target) or, for an alias record, the addresses tell which region
  answers, matched against the stack's `regionalEndpoints` output;
- requests go over HTTPS to that region's endpoint, signed with SigV4 for the region, with the
  `x-api-key` header, or both (`iam+apiKey`), as the stack's `apiAuthorization` requires; the
  key is one value, or a JSON object of region -> value (each region's key has its own value
  unless the client is `sharedAcrossRegions`), and each region gets its own;
- faults are written to the region's fault-injection parameter (`/<service>/<region>/
  fault-injection`), which only a stack with `faultInjectionAllowed: true` has and reads. The
  scenarios that need more than that parameter are never run here (`LOCAL_ONLY`).

Safety: a stack that does not allow fault injection is refused; a protected stack (`prod`, or
one whose config does not say) needs `--i-mean-prod` twice; every parameter is read first (it
must exist, with no fault on), the old values are written to a restore file before anything
changes, and put back in a `finally`, also on SIGINT/SIGTERM; `--restore FILE` puts them back
after a crash. A dry run prints the plan and changes nothing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import yaml

from tools.signed_call import API_KEY_ENV as SIGNED_CALL_API_KEY_ENV
from tools.signed_call import (
    ApiKeys,
    HttpAnswer,
    SignedCallError,
    SignedClient,
    Transport,
    default_credentials,
    parse_api_keys,
    urllib_transport,
)

from .dns import StackSettings
from .gameday import (
    SSM_FAULTS,
    ClientTimeout,
    Name,
    Options,
    Timeline,
    _within_rto,
    client_figures,
    drive,
    scenario_ledger,
)
from .verdicts import Goal, zero

CONFIG_NAMESPACE: Final[str] = "resilient-serverless"
#: The name the program gives the service (`ActiveActiveService("tasks", ...)`): its fault
#: parameters are `/tasks/<region>/fault-injection`.
SERVICE_NAME: Final[str] = "tasks"
#: Stacks that need `--i-mean-prod` twice, whatever their config says.
PROTECTED_STACKS: Final[frozenset[str]] = frozenset({"prod", "production"})
PROD_FLAG: Final[str] = "--i-mean-prod"
API_KEY_ENV: Final[str] = "GAMEDAY_API_KEY"
#: The scenarios a deployed stack can be given: their fault is the fault parameter's.
LIVE_SCENARIOS: Final[tuple[str, ...]] = tuple(SSM_FAULTS)
#: The others, and why they stay on 127.0.0.1.
LOCAL_ONLY: Final[Mapping[str, str]] = {
    "health-flood": "floods the public health route at 10 x its rate: real load, billed, "
    "and throttling every other client of the stage",
    "replication-stalled": "needs the global table's replication stopped, which AWS offers "
    "no switch for",
    "region-black-hole": "needs the region's network to drop packets; the stack has no "
    "switch for it",
}
_EXECUTE_API_HOST: Final = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com\.?\Z")

#: socket.getaddrinfo's signature: what resolves the service's name.
GetAddrInfo = Callable[..., list[tuple[Any, ...]]]


class LiveError(ValueError):
    """A live game day refused to start, or could not restore; names the option and the fix."""


# --- The stack -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveStack:
    """What the game day needs of a deployed stack: its config and its outputs."""

    name: str
    #: `faultInjectionAllowed` from the stack's config; None when the config does not say.
    fault_injection_allowed: bool | None
    #: "iam" (SigV4), "apiKey" or "iam+apiKey" (both).
    authorization: str
    url: str
    regions: tuple[str, ...]
    #: Per region: the API's invoke URL on its own endpoint (`regionalEndpoints`).
    endpoints: Mapping[str, str]
    service_name: str = SERVICE_NAME

    def parameter(self, region: str) -> str:
        return f"/{self.service_name}/{region}/fault-injection"


def _endpoint(region: str, url: str) -> str:
    parts = urlsplit(url)
    loopback = False
    with contextlib.suppress(ValueError):
        loopback = ipaddress.ip_address(parts.hostname or "").is_loopback
    # A signature or an API key must not cross the network in clear text.
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise LiveError(
            f"--outputs: regionalEndpoints.{region} is {url!r}: expected an https:// URL"
        )
    return url.rstrip("/")


def load_stack(project: Path, stack: str, outputs_path: Path | None = None) -> LiveStack:
    """The stack's config (Pulumi.<stack>.yaml) and outputs (`outputs_path`, the JSON of
    `pulumi stack output --json`; by default that command is run)."""
    config_path = project / f"Pulumi.{stack}.yaml"
    if not config_path.is_file():
        raise LiveError(f"--stack {stack}: no {config_path.name} in the project {project}")
    config = (yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}).get("config") or {}
    allowed = config.get(f"{CONFIG_NAMESPACE}:faultInjectionAllowed")
    if allowed is not None and not isinstance(allowed, bool):
        allowed = str(allowed).strip().lower() == "true"
    authorization = str(config.get(f"{CONFIG_NAMESPACE}:apiAuthorization") or "iam")
    if outputs_path is not None:
        try:
            outputs = json.loads(outputs_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise LiveError(f"--outputs {outputs_path}: cannot read it as JSON ({error})") from None
    else:
        done = subprocess.run(
            ["pulumi", "stack", "output", "--json", "--stack", stack, "--cwd", str(project)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise LiveError(
                f"--stack {stack}: `pulumi stack output --json` failed "
                f"({done.stderr.strip()[-500:]}); pass --outputs FILE (that command's JSON)"
            )
        outputs = json.loads(done.stdout)
    regions, endpoints, url = (
        outputs.get("regions"),
        outputs.get("regionalEndpoints"),
        outputs.get("url"),
    )
    if (
        not isinstance(regions, list)
        or len(regions) < 2
        or not isinstance(endpoints, dict)
        or not isinstance(url, str)
        or set(regions) - set(endpoints)
    ):
        raise LiveError(
            "--outputs: expected the stack's outputs `url`, `regions` (two or more) and "
            "`regionalEndpoints` (one per region)"
        )
    return LiveStack(
        name=stack,
        fault_injection_allowed=allowed,
        authorization=authorization,
        url=url,
        regions=tuple(regions),
        endpoints={region: _endpoint(region, endpoints[region]) for region in regions},
    )


def check_allowed(stack: LiveStack, i_mean_prod: int) -> None:
    """Refuse a stack that cannot take faults, and a protected one unless told twice."""
    key = f"{CONFIG_NAMESPACE}:faultInjectionAllowed"
    if stack.fault_injection_allowed is False:
        raise LiveError(
            f"--stack {stack.name}: its config sets {key}: false, so it has no fault parameter "
            "and its functions read none. Run the game day on a stack that allows faults, or "
            f"`pulumi config set faultInjectionAllowed true --stack {stack.name}` and deploy"
        )
    reasons = []
    if stack.name in PROTECTED_STACKS:
        reasons.append(f"{stack.name!r} is a protected stack")
    if stack.fault_injection_allowed is None:
        reasons.append(f"its config does not set {key}")
    if reasons and i_mean_prod < 2:
        raise LiveError(
            f"--stack {stack.name}: refused, {' and '.join(reasons)}: it takes faults only "
            f"with {PROD_FLAG} given twice ({PROD_FLAG} {PROD_FLAG}); given {i_mean_prod} time(s)"
        )


def _keyed(authorization: str) -> bool:
    return authorization in ("apiKey", "iam+apiKey")


def api_key(stack: LiveStack, key_file: Path | None, environ: Mapping[str, str]) -> str | None:
    """The API key a stack with apiKey or iam+apiKey authorization needs (None for iam): from
    the file, or the environment ($GAMEDAY_API_KEY, else tools.signed_call's
    $RESILIENT_API_KEY); never from the command line, where other users and logs see it. One
    value, or a JSON object of region -> value (LiveNetwork reads it)."""
    if not _keyed(stack.authorization):
        if key_file is not None:
            raise LiveError(
                f"--api-key-file: the {stack.name} stack authorizes with "
                f"{stack.authorization} (SigV4), not API keys"
            )
        return None
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise LiveError(f"--api-key-file {key_file}: {error.strerror}") from None
        if not key:
            raise LiveError(f"--api-key-file {key_file}: the file is empty")
        return key
    key = (environ.get(API_KEY_ENV, "") or environ.get(SIGNED_CALL_API_KEY_ENV, "")).strip()
    if not key:
        raise LiveError(
            f"the {stack.name} stack authorizes with API keys: give the key's value in "
            f"--api-key-file FILE or ${API_KEY_ENV} (or ${SIGNED_CALL_API_KEY_ENV}): one value, "
            'or {"<region>": "<value>", ...} for a key of a value per region (`aws apigateway '
            "get-api-key --api-key <id from the apiKeyIds output> --include-value --region "
            "<region>`)"
        )
    return key


# --- The network: real lookups, the regions' own endpoints ----------------------------------


@dataclass
class LiveName:
    """The service's name as a client of the deployed stack sees it: every lookup is a real
    one (the system's resolver caches for the record's TTL, as a client's would)."""

    network: LiveNetwork
    latency_order: tuple[str, ...]
    _last: str | None = None

    def region(self) -> str:
        try:
            self._last = self.network.resolve()
        except (OSError, LiveError):
            # A failed lookup: the client keeps its last answer, as a stub resolver serves
            # stale; the failure is counted.
            with self.network.lock:
                self.network.lookup_failures += 1
        return self._last or self.latency_order[0]


@dataclass
class LiveNetwork:
    stack: LiveStack
    #: The client's key (one value, or JSON region -> value). None: SigV4 only, with
    #: `credentials` (the standard chain when None too); given: the key only, or the key and
    #: SigV4 when the stack's authorization is iam+apiKey.
    api_key: str | None = None
    credentials: Any = None
    getaddrinfo: GetAddrInfo = socket.getaddrinfo
    #: A transport with this timeout (s): HTTPS by default.
    transport_for: Callable[[float], Transport] = urllib_transport
    lock: threading.Lock = field(default_factory=threading.Lock)
    lookup_failures: int = 0
    _signers: dict[str, SignedClient] = field(default_factory=dict)
    _keys: ApiKeys | None = None

    def __post_init__(self) -> None:
        if self.api_key is not None:
            try:
                self._keys = parse_api_keys(self.api_key, "the API key")
                for region in self.stack.regions:
                    self._keys.for_region(region)
            except SignedCallError as error:
                raise LiveError(f"--api-key-file: {error}") from None
        if self.signs:
            credentials = self.credentials or default_credentials()
            self._signers = {
                region: SignedClient(region=region, credentials=credentials, api_keys=self._keys)
                for region in self.stack.regions
            }

    @property
    def signs(self) -> bool:
        """Whether requests are signed: always without a key, and with one on iam+apiKey."""
        return self.api_key is None or self.stack.authorization == "iam+apiKey"

    @property
    def host(self) -> str:
        return urlsplit(self.stack.url).hostname or self.stack.url

    def _lookup(self, host: str) -> tuple[str, frozenset[str]]:
        infos = self.getaddrinfo(host, 443, type=socket.SOCK_STREAM, flags=socket.AI_CANONNAME)
        canonical = next((str(info[3]) for info in infos if info[3]), host)
        return canonical.rstrip(".").lower(), frozenset(str(info[4][0]) for info in infos)

    def resolve(self) -> str:
        """The region the service's name resolves to now."""
        canonical, addresses = self._lookup(self.host)
        for region, endpoint in self.stack.endpoints.items():
            if canonical == (urlsplit(endpoint).hostname or "").lower():
                return region
        # A CNAME to a regional API Gateway name: the region is in the name.
        found = _EXECUTE_API_HOST.search(canonical)
        if found and found.group(1) in self.stack.endpoints:
            return found.group(1)
        # An alias record answers addresses only: the region whose endpoint has them.
        for region, endpoint in self.stack.endpoints.items():
            if addresses & self._lookup(urlsplit(endpoint).hostname or "")[1]:
                return region
        raise LiveError(f"{self.host} resolves to {canonical} {sorted(addresses)}: no region's")

    def name(self, latency_order: tuple[str, ...]) -> Name:
        return LiveName(self, latency_order)

    def send(
        self,
        region: str,
        method: str,
        route: str,
        body: str | None,
        headers: Mapping[str, str],
        timeout_s: float,
    ) -> HttpAnswer:
        url = f"{self.stack.endpoints[region]}{route}"
        transport = self.transport_for(timeout_s)
        try:
            if self.signs:
                # The region's key value rides along in x-api-key when there is a key.
                return self._signers[region].call(method, url, body, headers, transport=transport)
            assert self._keys is not None
            sent = {**headers, "x-api-key": self._keys.for_region(region)}
            if body is not None:
                sent.setdefault("Content-Type", "application/json")
            return transport(method, url, sent, None if body is None else body.encode())
        except SignedCallError as error:
            raise ClientTimeout(str(error)) from None


# --- The fault parameters, and putting them back ---------------------------------------------


@dataclass(frozen=True)
class Saved:
    region: str
    name: str
    value: str
    type: str


SsmFor = Callable[[str], Any]


def default_ssm(region: str) -> Any:
    import boto3

    return boto3.client("ssm", region_name=region)


@dataclass
class FaultParameters:
    """The stack's fault parameters: read first, changed only after the old values are in the
    restore file, and put back."""

    stack: LiveStack
    ssm_for: SsmFor = default_ssm
    saved: dict[str, Saved] = field(default_factory=dict)
    #: Regions whose parameter was written (put back by `restore`).
    changed: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self) -> dict[str, Saved]:
        """Every region's current value; LiveError if one is missing or has a fault on."""
        for region in self.stack.regions:
            name = self.stack.parameter(region)
            try:
                found = self.ssm_for(region).get_parameter(Name=name)["Parameter"]
            except Exception as error:
                code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
                if code == "ParameterNotFound":
                    raise LiveError(
                        f"--stack {self.stack.name}: {name} does not exist in {region}: the "
                        "stack was deployed without faultInjectionAllowed: true (the game day "
                        "never creates parameters)"
                    ) from None
                raise LiveError(f"reading {name} in {region} failed: {error}") from None
            value = str(found["Value"])
            current: Any = None
            with contextlib.suppress(ValueError):
                current = json.loads(value)
            if isinstance(current, dict) and current.get("enabled") is True:
                raise LiveError(
                    f"{name} in {region} has a fault on ({value}): another game day is "
                    "under way, or one ended without restoring (see --restore FILE)"
                )
            self.saved[region] = Saved(region, name, value, str(found.get("Type", "String")))
        return dict(self.saved)

    def set_fault(self, region: str, fault: Mapping[str, Any]) -> None:
        saved = self.saved[region]  # KeyError: never written without reading first
        with self.lock:
            self.changed.add(region)
        self._put(saved, json.dumps({"enabled": True, **fault}))

    def put_back(self, region: str) -> None:
        with self.lock:
            if region not in self.changed:
                return
        saved = self.saved[region]
        self._put(saved, saved.value)
        with self.lock:
            self.changed.discard(region)

    def restore(self) -> list[str]:
        """Put back every parameter written; the names put back."""
        with self.lock:
            regions = sorted(self.changed)
        for region in regions:
            self.put_back(region)
        return [self.saved[region].name for region in regions]

    def _put(self, saved: Saved, value: str) -> None:
        self.ssm_for(saved.region).put_parameter(
            Name=saved.name, Value=value, Type=saved.type, Overwrite=True
        )


def write_restore_file(path: Path, stack: str, saved: Mapping[str, Saved]) -> None:
    """The old values, on disk before anything changes (written whole, then renamed)."""
    document = {
        "stack": stack,
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": [vars(each) for each in saved.values()],
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def restore_from_file(path: Path, ssm_for: SsmFor = default_ssm) -> list[str]:
    """`--restore FILE`: put every parameter of a restore file back; the names put back."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        saved = [Saved(**entry) for entry in document["parameters"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LiveError(
            f"--restore {path}: not a game day restore file ({type(error).__name__}: {error})"
        ) from None
    for each in saved:
        ssm_for(each.region).put_parameter(
            Name=each.name, Value=each.value, Type=each.type, Overwrite=True
        )
    return [each.name for each in saved]


# --- Signals ---------------------------------------------------------------------------------


@contextlib.contextmanager
def interruptible() -> Iterator[Callable[[], contextlib.AbstractContextManager[None]]]:
    """SIGINT and SIGTERM raise KeyboardInterrupt (so every `finally` runs); yields `shielded`,
    under which a signal only says the parameters are being put back."""
    signals = (signal.SIGINT, signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread():
        yield contextlib.nullcontext  # handlers can be set from the main thread only
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    def wait(signum: int, frame: Any) -> None:
        print("gameday: putting the fault parameters back first", flush=True)

    @contextlib.contextmanager
    def shielded() -> Iterator[None]:
        for each in signals:
            signal.signal(each, wait)
        try:
            yield
        finally:
            for each in signals:
                signal.signal(each, interrupt)

    previous = {each: signal.signal(each, interrupt) for each in signals}
    try:
        yield shielded
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


# --- The plan and the run --------------------------------------------------------------------


def split_scenarios(scenarios: Sequence[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """(run, skipped: name -> why) for the scenarios asked for."""
    run = tuple(name for name in scenarios if name in LIVE_SCENARIOS)
    return run, {name: LOCAL_ONLY[name] for name in scenarios if name in LOCAL_ONLY}


def plan(
    options: Options,
    stack: LiveStack,
    settings: StackSettings,
    fault_region: str,
    saved: Mapping[str, Saved] | None = None,
) -> list[str]:
    """What a run would do, line by line: nothing is changed to find it out."""
    run, skipped = split_scenarios(options.scenarios)
    nominal = settings.nominal_failover_s(options.alias_ttl_s)
    auth = {
        "apiKey": "x-api-key header",
        "iam+apiKey": "SigV4 for each region and the region's x-api-key header",
    }.get(stack.authorization, "SigV4 for each region")
    lines = [
        f"game day against the {stack.name} stack ({stack.url})",
        f"  regions: {', '.join(stack.regions)}; faults on {fault_region}, where "
        f"{urlsplit(stack.url).hostname} resolves now",
        f"  requests: {auth}; nominal failover {nominal:g} s "
        f"({settings.interval_s:g} s x {settings.failure_threshold} + TTL "
        f"{settings.record_ttl_s(options.alias_ttl_s):g} s)",
    ]
    total_s = 0.0
    name = stack.parameter(fault_region)
    for scenario in run:
        timeline = Timeline.of(options, scenario, nominal)
        seconds = timeline.total + options.drain_s
        total_s += seconds
        fault = json.dumps({"enabled": True, **SSM_FAULTS[scenario]})
        lines.append(
            f"  run {scenario}: {options.tasks} tasks over {timeline.total:g} s (then polls "
            f"every {options.poll_s:g} s for up to {options.drain_s:g} s); after "
            f"{timeline.before:g} s writes {name} = {fault} for {timeline.fault:g} s, then "
            "its old value"
        )
    for scenario, why in skipped.items():
        lines.append(f"  skip {scenario} (local only): {why}")
    if saved:
        lines += [f"  now {each.name} = {each.value}" for each in saved.values()]
    lines.append(
        f"  at most {total_s:g} s; {len(run) * options.tasks} tasks submitted, each retried "
        "and polled until done"
    )
    return lines


def goals(scenarios: Sequence[str]) -> tuple[Goal, ...]:
    """The live keys' goals: the local game day's RTO goals, and no accepted task unfinished
    (a deployed stack's tables are not scanned: the clients' own polls tell)."""
    judged: list[Goal] = []
    for name in scenarios:
        judged += [
            zero(f"{name}.tasks_unfinished", "accepted tasks a client never saw SUCCEEDED"),
            _within_rto(
                name,
                "rto_seconds",
                "clients were not all served again within 1.5 x the nominal failover time",
            ),
        ]
        if name == "fail-back":
            judged.append(
                _within_rto(
                    name,
                    "failback_seconds",
                    "the recovered region did not take its clients back in time",
                )
            )
    return tuple(judged)


def run_scenario(
    options: Options,
    network: LiveNetwork,
    parameters: FaultParameters,
    settings: StackSettings,
    regions: tuple[str, ...],
    name: str,
) -> dict[str, Any]:
    """One scenario on the stack, its fault on `regions[0]`."""
    fault_region = regions[0]
    nominal = settings.nominal_failover_s(options.alias_ttl_s)
    timeline = Timeline.of(options, name, nominal)
    ledger = scenario_ledger(options, name, regions, timeline)
    failures_before = network.lookup_failures
    driven = drive(
        options,
        name,
        ledger,
        network,
        regions,
        timeline,
        lambda: parameters.set_fault(fault_region, SSM_FAULTS[name]),
        lambda: parameters.put_back(fault_region),
    )
    finished = driven.clients.finished
    accepted = [r for r in ledger.requests if r.accepted_s is not None]
    return {
        **client_figures(name, fault_region, ledger, driven, nominal, options.clock),
        "tasks_done": sum(1 for status in finished.values() if status == "SUCCEEDED"),
        "tasks_unfinished": sum(1 for r in accepted if finished.get(r.index) != "SUCCEEDED"),
        "lookup_failures": network.lookup_failures - failures_before,
    }


def run(
    options: Options,
    stack: LiveStack,
    settings: StackSettings,
    network: LiveNetwork,
    parameters: FaultParameters,
    restore_path: Path,
    *,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, Any] | None:
    """The game day on a deployed stack (None for a dry run, which only prints the plan).
    Interrupted, the parameters are put back before KeyboardInterrupt propagates."""
    if options.compression != 1:
        raise LiveError("--compression: a deployed stack runs in real time (1)")
    scenarios, skipped = split_scenarios(options.scenarios)
    try:
        fault_region = network.resolve()
    except OSError as error:
        raise LiveError(f"--stack {stack.name}: cannot resolve {network.host}: {error}") from None
    regions = (fault_region, *(r for r in stack.regions if r != fault_region))
    saved = parameters.read()
    for line in plan(options, stack, settings, fault_region, saved):
        say(line)
    if dry_run:
        say("dry run: nothing was changed")
        return None
    if not scenarios:
        raise LiveError(
            f"--scenario: none of them can run on a deployed stack; choose from "
            f"{', '.join(LIVE_SCENARIOS)}"
        )
    write_restore_file(restore_path, stack.name, saved)
    started = time.monotonic()
    entries: list[dict[str, Any]] = []
    with interruptible() as shielded:
        try:
            for name in scenarios:
                entries.append(run_scenario(options, network, parameters, settings, regions, name))
        finally:
            with shielded():
                restored = parameters.restore()
                restore_path.unlink(missing_ok=True)
            say(f"restored: {', '.join(restored) or 'nothing was left changed'}")
    result: dict[str, Any] = {
        "stack": stack.name,
        "live": True,
        "regions": list(regions),
        "skipped": skipped,
        "scenarios": entries,
        "seconds": round(time.monotonic() - started, 1),
    }
    for entry in entries:
        for key, value in entry.items():
            if key != "name":
                result[f"{entry['name']}.{key}"] = value
    return result
