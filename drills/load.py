"""The load drill: a steady stream of submits, each polled until its task is done.

    python -m drills load --rps 20 --seconds 10 [--url https://tasks.example.com/v1] --json out.json

Open loop: a submit starts every 1/rps seconds whatever the earlier ones are doing (a closed
loop would slow down with the system and hide its latency). Each submit carries a fresh
Idempotency-Key and is polled (GET statusUrl every 200 ms) until SUCCEEDED or FAILED.

Without --url the drill runs the real handlers against a moto server on 127.0.0.1, behind a
local API Gateway (`gateway.LocalGateway`: IAM authorization, the signature checked for real)
with a token bucket standing in for its stage throttling (the stack's default 100 rps, burst
200: answered 429 without invoking the function), and worker containers playing Lambda's SQS
poller. With --url it calls the deployed stack over HTTPS with the credentials of botocore's
standard chain. Every call is signed with SigV4 (`tools.signed_call`), for the region the health
route names.

Figures: latency percentiles from submit to done, the submits' status codes, the share throttled
(429), and tasks lost (accepted, but not done within `GRACE_S` after the last submit).
"""

from __future__ import annotations

import contextlib
import io
import json
import queue
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tools.signed_call import HttpAnswer, SignedClient, Transport

from . import local_aws
from .chaos import Recorder
from .containers import (
    Container,
    Observations,
    ProcessContainer,
    drill_process,
    poll_queue,
    prepare_environment,
)
from .gateway import BASE_URL, DRILL_CREDENTIALS, LocalGateway
from .output import Progress

#: How long after the last submit a task may take before it counts as lost.
GRACE_S = 30.0
#: Clients poll at 5 Hz: faster polling would load the API more than the submits do.
POLL_S = 0.2
#: API Gateway's stage throttling as the stack configures it by default.
THROTTLE_RATE = 100.0
THROTTLE_BURST = 200


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
    url: str, api_containers: int = 4, workers: int = 3
) -> tuple[Call, Callable[[], None]]:
    """The handlers on moto: a call function and a stop function. The API's containers run in
    processes of their own, each serving one request at a time, as in Lambda."""
    resources = local_aws.create(url, "eu-west-1", max_receive_count=5, visibility_s=30)
    environment = {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TABLE_NAME": resources.table_name,
        "QUEUE_URL": resources.queue_url,
        "BREAKER_TABLE_NAME": resources.breaker_table_name,
        "MAX_RECEIVE_COUNT": "5",
    }
    prepare_environment(environment)
    import aws_clients
    import downstream

    aws_clients.reset_clients()
    downstream.reset()
    idle: queue.Queue[ProcessContainer] = queue.Queue()
    api = [
        ProcessContainer(f"load-api-{n}", "task_api", 10.0, environment, _no_hooks, (), _ignore)
        for n in range(api_containers)
    ]
    for container in api:
        idle.put(container)
    pollers = [Container(f"load-worker-{n}", "task_worker", 30.0) for n in range(workers)]
    stop = threading.Event()
    threads = poll_queue(resources, pollers, stop)
    bucket = TokenBucket(THROTTLE_RATE, THROTTLE_BURST)

    def invoke(event: dict[str, Any]) -> Any:
        container = idle.get()  # the next free container (Lambda would start another)
        try:
            return container.invoke(event)
        finally:
            idle.put(container)

    gateway = LocalGateway("eu-west-1").transport(invoke)

    def throttled(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> HttpAnswer:
        if not bucket.take():
            return HttpAnswer(429, {}, b'{"message": "Too Many Requests"}')
        return gateway(method, url, headers, body)

    call = signed_api(SignedClient(credentials=DRILL_CREDENTIALS, transport=throttled), BASE_URL)

    def finish() -> None:
        for container in api:
            container.close()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)

    return call, finish


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


def remote_api(base_url: str, transport: Transport | None = None) -> Call:
    """The deployed stack, signed with the credentials of botocore's standard chain."""
    return signed_api(SignedClient(transport=transport), base_url)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def drive(call: Call, rps: float, seconds: float) -> dict[str, Any]:
    total = max(1, int(rps * seconds))
    codes: Counter[int] = Counter()
    latencies: list[float] = []
    lost: list[str] = []
    lock = threading.Lock()
    progress = Progress("load", total)
    done = [0]
    last_submit_at = [time.monotonic()]

    def one(index: int) -> None:
        started = time.monotonic()
        body = json.dumps({"taskType": "sum", "parameters": {"numbers": [index, 1]}})
        status, answer = call("POST", "/tasks", body, {"Idempotency-Key": str(uuid.uuid4())})
        with lock:
            codes[status] += 1
        if status != 202:
            return
        task_id = answer["taskId"]
        while (
            time.monotonic() < last_submit_at[0] + GRACE_S or time.monotonic() < started + GRACE_S
        ):
            polled_status, polled = call("GET", f"/tasks/{task_id}", None, {})
            if polled_status == 200 and polled.get("status") in ("SUCCEEDED", "FAILED"):
                with lock:
                    latencies.append(time.monotonic() - started)
                    done[0] += 1
                    progress.update(done[0])
                return
            time.sleep(POLL_S)
        with lock:
            lost.append(task_id)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for index in range(total):
            due = started + index / rps
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            last_submit_at[0] = time.monotonic()
            pool.submit(one, index)
    progress.close()
    elapsed = time.monotonic() - started
    submit_window = last_submit_at[0] - started + 1 / rps
    submits = sum(codes.values())
    return {
        "submits": submits,
        "achieved_rps": round(submits / submit_window, 1),
        "status_codes": dict(sorted(codes.items())),
        "throttled_share": round(codes[429] / submits, 4) if submits else 0.0,
        "done": len(latencies),
        "latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "latency_p90_ms": round(percentile(latencies, 0.90) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "latency_max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
        "tasks_lost": len(lost),
        "seconds": round(elapsed, 1),
    }


def run(rps: float, seconds: float, url: str | None = None) -> dict[str, Any]:
    if url is not None:
        return {"target": url, **drive(remote_api(url), rps, seconds)}
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with (
        drill_process(),
        local_aws.moto_server() as moto_url,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        call, finish = local_api(moto_url)
        try:
            result = drive(call, rps, seconds)
        finally:
            finish()
    return {"target": "moto on 127.0.0.1", **result}
