"""The load drill: a steady stream of submits, each polled until its task is done.

    python -m drills load --rps 20 --seconds 10 [--url https://tasks.example.com/v1] --json out.json

Open loop: a submit starts every 1/rps seconds whatever the earlier ones are doing (a closed
loop would slow down with the system and hide its latency). Each submit carries a fresh
Idempotency-Key and is polled (GET statusUrl every 200 ms) until SUCCEEDED or FAILED.

Without --url the drill runs the real handlers against a moto server on 127.0.0.1, behind a
local API Gateway (`gateway.LocalGateway`: IAM authorization, the signature checked for real)
with a token bucket per method standing in for its stage throttling (the stack's default 100
rps, burst 200: answered 429 without invoking the function), and worker containers playing Lambda's SQS
poller. With --url it calls the deployed stack over HTTPS with the credentials of botocore's
standard chain. Every call is signed with SigV4 (`tools.signed_call`), for the region the health
route names.

API keys (a stack with `apiAuthorization: iam+apiKey`): `--api-key-file FILE` (or
$RESILIENT_API_KEY) is the client's key, sent in `x-api-key` with every signed call; locally the
gateway then requires it too (and answers 403 Forbidden without it, as API Gateway does), as a
staging stage does.

Figures: latency percentiles from each submit's due time to done (SUCCEEDED only), the submits'
status codes, the share throttled (429), submits refused (403: a signature or a key the gateway
did not accept), tasks that ended FAILED, and tasks lost (accepted, but neither SUCCEEDED nor
FAILED within `GRACE_S` after the later of the last submit and their own). Goals: none lost,
none failed (`GOALS`), and none refused when the run has an API key (`goals`); the drill exits 1
when one is missed.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from tools.signed_call import ApiKeys, HttpAnswer, SignedClient, Transport

from . import local_aws
from .chaos import Recorder
from .containers import (
    ContainerPool,
    Observations,
    ProcessContainer,
    drill_process,
    poll_queue,
    prepare_environment,
)
from .gateway import BASE_URL, DRILL_CREDENTIALS, LocalGateway
from .ledger import percentile_ms
from .output import Progress
from .verdicts import Goal, zero

#: How long after the last submit a task may take before it counts as lost.
GRACE_S = 30.0
#: Clients poll at 5 Hz: faster polling would load the API more than the submits do.
POLL_S = 0.2
#: API Gateway's stage throttling as the stack configures it by default: per method (`*/*`
#: applies to each method of the stage on its own, not to the stage as a whole).
THROTTLE_RATE = 100.0
THROTTLE_BURST = 200
#: The local worker's timeout and its queue's visibility (the 6x the policy pack asks of the
#: worker's timeout): long enough that a worker behind a backlog still finishes its batch. A task
#: that keeps failing reads FAILED after `--max-receive-count` receives.
WORKER_BUDGET_S = 10.0
VISIBILITY_S = 60
MAX_RECEIVE_COUNT = 3


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


Call = Callable[[str, str, str | None, dict[str, str]], tuple[int, dict[str, Any]]]


def _no_hooks() -> Recorder:
    return Recorder("eu-west-1")  # the load drill injects nothing and counts at the client


def _ignore(observations: Observations) -> None:
    return


def local_api(
    url: str,
    api_containers: int = 4,
    workers: int = 3,
    max_receive_count: int = MAX_RECEIVE_COUNT,
    *,
    api_key: str | None = None,
    gateway_api_keys: tuple[str, ...] | None = None,
) -> tuple[Call, Callable[[], None]]:
    """The handlers on moto: a call function and a stop function. Every container runs in a
    process of its own, one invocation at a time, as in Lambda (in the drill's process the
    workers would share the interpreter with its client threads and fall behind).

    `api_key`: the key the client sends; `gateway_api_keys`: the keys the gateway accepts
    (default: the client's, so a run with a key meets a stage that requires it)."""
    resources = local_aws.create(
        url, "eu-west-1", max_receive_count=max_receive_count, visibility_s=VISIBILITY_S
    )
    environment = {
        **local_aws.function_environment(url, resources),
        "MAX_RECEIVE_COUNT": str(max_receive_count),
        "DEADLINE_MARGIN_MS": "300",
        "TASK_PROCESSING_WINDOW_SECONDS": str(max_receive_count * VISIBILITY_S + 4),
    }
    prepare_environment(environment)
    import aws_clients
    import downstream

    aws_clients.reset_clients()
    downstream.reset()
    api = ContainerPool(
        [
            ProcessContainer(f"load-api-{n}", "task_api", 10.0, environment, _no_hooks, (), _ignore)
            for n in range(api_containers)
        ]
    )
    pollers = [
        ProcessContainer(
            f"load-worker-{n}", "task_worker", WORKER_BUDGET_S, environment, _no_hooks, (), _ignore
        )
        for n in range(workers)
    ]
    stop = threading.Event()
    threads = poll_queue(resources, pollers, stop)
    buckets = {
        method: TokenBucket(THROTTLE_RATE, THROTTLE_BURST)
        for method in ("POST /tasks", "GET /tasks/{taskId}", "GET /health")
    }

    accepted = gateway_api_keys if gateway_api_keys is not None else _keys_of(api_key)
    gateway = LocalGateway("eu-west-1", api_keys=accepted).transport(api.invoke)

    def throttled(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> HttpAnswer:
        route = urlsplit(url).path.removeprefix(urlsplit(BASE_URL).path)
        method_key = (
            f"{method} /tasks/{{taskId}}" if route.startswith("/tasks/") else f"{method} {route}"
        )
        bucket = buckets.get(method_key)
        if bucket is not None and not bucket.take():
            return HttpAnswer(429, {}, b'{"message": "Too Many Requests"}')
        return gateway(method, url, headers, body)

    keys = ApiKeys(shared=api_key) if api_key is not None else None
    client = SignedClient(credentials=DRILL_CREDENTIALS, transport=throttled, api_keys=keys)
    call = signed_api(client, BASE_URL)

    def finish() -> None:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        for container in [*api.containers, *pollers]:
            container.close()

    return call, finish


def _keys_of(api_key: str | None) -> tuple[str, ...]:
    return (api_key,) if api_key is not None else ()


def signed_api(client: SignedClient, base_url: str) -> Call:
    """Calls to the API at `base_url`, each signed by `client`."""
    base = base_url.rstrip("/")

    def call(
        method: str, path: str, body: str | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        answer = client.call(method, base + path, body, headers)
        try:
            payload = answer.json()
        except ValueError:
            payload = {}
        return answer.status, payload if isinstance(payload, dict) else {}

    return call


def remote_api(
    base_url: str, transport: Transport | None = None, api_keys: ApiKeys | None = None
) -> Call:
    """The deployed stack, signed with the credentials of botocore's standard chain, with the
    client's API key (the value of the region signed for) when it has one."""
    return signed_api(SignedClient(transport=transport, api_keys=api_keys), base_url)


#: The load drill's goals (see drills/README.md): every accepted task done, none failed.
GOALS: Final[tuple[Goal, ...]] = (
    zero("tasks_lost", "accepted (202) tasks not finished within the grace period"),
    zero("tasks_failed", "tasks that ended FAILED under a load with no fault injected"),
)
#: With an API key: a refused submit (403) is a failed one - the key, or the signature with it,
#: did not get through the gateway.
REFUSED_GOAL: Final[Goal] = zero(
    "submits_refused", "submits the gateway refused (403): a signature or an API key not accepted"
)


def goals(api_key: bool) -> tuple[Goal, ...]:
    """The goals of a run: `GOALS`, and no refused submit when the run sends an API key."""
    return (*GOALS, REFUSED_GOAL) if api_key else GOALS


def drive(call: Call, rps: float, seconds: float, grace_s: float = GRACE_S) -> dict[str, Any]:
    """Submit open loop: request n is due at n/rps seconds, each on a thread of its own, so a
    slow answer never delays the next send. Latency counts from the due time, so waiting for a
    free thread, a throttled gateway or a busy container is part of it (no coordinated
    omission)."""
    total = max(1, int(rps * seconds))
    codes: Counter[int] = Counter()
    finished: dict[str, float] = {}
    failed: list[str] = []
    lost: list[str] = []
    sent_at: list[float] = []
    lock = threading.Lock()
    progress = Progress("load", total)

    def one(index: int, due: float) -> None:
        body = json.dumps({"taskType": "sum", "parameters": {"numbers": [index, 1]}})
        with lock:
            sent_at.append(time.monotonic() - started)
        status, answer = call("POST", "/tasks", body, {"Idempotency-Key": str(uuid.uuid4())})
        with lock:
            codes[status] += 1
        if status != 202:
            return
        task_id = answer["taskId"]
        give_up_at = max(started + seconds, due) + grace_s
        while time.monotonic() < give_up_at:
            polled_status, polled = call("GET", f"/tasks/{task_id}", None, {})
            state = polled.get("status") if polled_status == 200 else None
            if state in ("SUCCEEDED", "FAILED"):
                with lock:
                    if state == "SUCCEEDED":
                        finished[task_id] = time.monotonic() - due
                    else:
                        failed.append(task_id)
                    progress.update(len(finished) + len(failed))
                return
            time.sleep(POLL_S)
        with lock:
            lost.append(task_id)

    started = time.monotonic()
    threads: list[threading.Thread] = []
    for index in range(total):
        due = started + index / rps
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        thread = threading.Thread(target=one, args=(index, due), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    progress.close()
    elapsed = time.monotonic() - started
    submits = sum(codes.values())
    window = max(sent_at, default=0.0) + 1 / rps
    latencies = list(finished.values())
    return {
        "submits": submits,
        "intended_rps": rps,
        "achieved_rps": round(len(sent_at) / window, 1),
        "status_codes": dict(sorted(codes.items())),
        "throttled_share": round(codes[429] / submits, 4) if submits else 0.0,
        "submits_refused": codes[403],
        "done": len(finished),
        "tasks_failed": len(failed),
        "latency_p50_ms": percentile_ms(latencies, 0.50),
        "latency_p90_ms": percentile_ms(latencies, 0.90),
        "latency_p99_ms": percentile_ms(latencies, 0.99),
        "latency_max_ms": percentile_ms(latencies, 1.0),
        "tasks_lost": len(lost),
        "seconds": round(elapsed, 1),
    }


def run(
    rps: float,
    seconds: float,
    url: str | None = None,
    *,
    grace_s: float = GRACE_S,
    max_receive_count: int = MAX_RECEIVE_COUNT,
    api_keys: ApiKeys | None = None,
    gateway_api_keys: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The drill against `url`, or locally. `api_keys`: the client's key (locally one value,
    which the gateway then requires unless `gateway_api_keys` says which keys it accepts)."""
    if url is not None:
        return {"target": url, **drive(remote_api(url, api_keys=api_keys), rps, seconds, grace_s)}
    if api_keys is not None and api_keys.shared is None:
        raise ValueError(
            "--api-key-file: the local gateway is one region: give one key value, not a JSON "
            "object of regions"
        )
    api_key = api_keys.shared if api_keys is not None else None
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with (
        drill_process(),
        local_aws.moto_server() as moto_url,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        call, finish = local_api(
            moto_url,
            max_receive_count=max_receive_count,
            api_key=api_key,
            gateway_api_keys=gateway_api_keys,
        )
        try:
            result = drive(call, rps, seconds, grace_s)
        finally:
            finish()
    required = gateway_api_keys if gateway_api_keys is not None else _keys_of(api_key)
    target = "moto on 127.0.0.1" + (" (API key required)" if required else "")
    return {"target": target, **result}
