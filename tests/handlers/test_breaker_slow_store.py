"""The breaker's own table, slow or down, must neither switch the protection off for fresh
containers nor (with `deny`) refuse calls to a healthy dependency.

Real botocore and HTTP: the breaker table lives on a moto server behind a proxy that delays or
fails its replies; every container is built by `downstream` as the handlers build theirs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from local_network import FaultProxy, Rule, fault_proxy, reset_moto

import downstream
from aws_clients import CallProfile, Timeouts
from circuit_breaker import CircuitOpenError
from deadlines import Deadline, call_with_deadline
from task_settings import Settings, load_settings

REGION = "eu-west-1"
BREAKER_TABLE = "slow-breakers"
FRESH_CONTAINERS = 50
#: What an API invocation has left when it starts (29 s integration timeout, minus the margin).
API_BUDGET_S = 25.0


@dataclass
class Network:
    moto: Any
    proxy: FaultProxy


@pytest.fixture
def network(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Network]:
    reset_moto(moto_url)
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_url)
    dynamodb.create_table(
        TableName=BREAKER_TABLE,
        AttributeDefinitions=[{"AttributeName": "breakerId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "breakerId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with fault_proxy(moto_url) as (proxy_url, proxy):
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy_url)
        yield Network(dynamodb, proxy)


def open_breaker_item(dynamodb: Any) -> None:
    """The table breaker as another container left it: open for the next hour."""
    now = time.time()
    dynamodb.put_item(
        TableName=BREAKER_TABLE,
        Item={
            "breakerId": {"S": "table"},
            "state": {"S": "OPEN"},
            "failures": {"N": "0"},
            "openedAt": {"N": repr(now)},
            "openUntil": {"N": repr(now + 3600)},
        },
    )


def settings(mode: str = "memory") -> Settings:
    return load_settings(
        {
            "TABLE_NAME": "tasks",
            "AWS_REGION": REGION,
            "BREAKER_TABLE_NAME": BREAKER_TABLE,
            "BREAKER_STORE_FAILURE": mode,
        }
    )


class Dependency:
    """The tasks table as the breaker guards it: counts the calls that reached it."""

    def __init__(self, healthy: bool) -> None:
        self.healthy = healthy
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, timeouts: Timeouts) -> str:
        with self._lock:
            self.calls += 1
        if self.healthy:
            return "ok"
        raise ClientError(
            {
                "Error": {"Code": "InternalServerError", "Message": "table down"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            "PutItem",
        )


def call_as(container: str, dependency: Dependency, mode: str = "memory") -> str:
    """One API call in `container`: its outcome, or the name of the error that ended it."""
    with downstream.container(container):
        guard = downstream.breaker("table", settings(mode))
        try:
            return call_with_deadline(
                "table",
                "PutItem",
                dependency,
                profile=CallProfile.REQUEST,
                deadline=Deadline.after(API_BUDGET_S),
                guard=guard,
                sleep=lambda seconds: None,
            )
        except (ClientError, CircuitOpenError) as error:
            return type(error).__name__


def in_parallel(containers: int, calls_each: int, dependency: Dependency) -> list[str]:
    outcomes: list[str] = []
    lock = threading.Lock()

    # Five containers at a time: the local proxy accepts a handful of connections at once (its
    # listen backlog), and a burst of 50 would time out connecting, not reading.
    running = threading.Semaphore(5)

    def container(number: int) -> None:
        with running:
            for _ in range(calls_each):
                outcome = call_as(f"fresh-{number}", dependency)
                with lock:
                    outcomes.append(outcome)

    threads = [threading.Thread(target=container, args=(n,)) for n in range(containers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_fresh_containers_wait_for_a_slow_breaker_table_and_keep_off_an_open_dependency(
    network: Network,
) -> None:
    open_breaker_item(network.moto)
    # 0.6 s: over the breaker's old fixed read timeout, well inside what a request can afford.
    network.proxy.rules.append(Rule("GetItem", "delay", times=10_000, delay_s=0.6))
    dependency = Dependency(healthy=False)
    outcomes = in_parallel(FRESH_CONTAINERS, 1, dependency)
    assert dependency.calls == 0
    assert outcomes == ["CircuitOpenError"] * FRESH_CONTAINERS


def test_fresh_containers_without_an_answer_from_the_breaker_table_make_one_trial_each(
    network: Network,
) -> None:
    network.proxy.rules.append(Rule("GetItem", "fail", times=10_000))
    network.proxy.rules.append(Rule("UpdateItem", "fail", times=10_000))
    dependency = Dependency(healthy=False)
    in_parallel(FRESH_CONTAINERS, 3, dependency)
    # Not assumed closed: one trial per container, whose failure keeps the others off.
    assert dependency.calls == FRESH_CONTAINERS


def test_deny_refuses_only_what_it_knows_nothing_about_while_the_table_is_down(
    network: Network,
) -> None:
    healthy = Dependency(healthy=True)
    assert call_as("warm", healthy, mode="deny") == "ok"  # the table said CLOSED
    network.proxy.rules.append(Rule("GetItem", "fail", times=10_000))
    network.proxy.rules.append(Rule("UpdateItem", "fail", times=10_000))
    time.sleep(1.1)  # past the container's cache: every decision now asks the failing table
    assert [call_as("warm", healthy, mode="deny") for _ in range(5)] == ["ok"] * 5
    assert healthy.calls == 6
    # A container that never heard from the table cannot know the circuit is closed.
    assert call_as("fresh", healthy, mode="deny") == "CircuitOpenError"
