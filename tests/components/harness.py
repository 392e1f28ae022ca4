"""Run Pulumi code under the SDK's mocks and record what the engine would receive.

The recording mocks and monitor are the offline preview's own (`offline.engine.recording`), so the
component tests see exactly what `python -m offline preview` and the policy pack see.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.stack import wait_for_rpcs

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from offline.engine.provider_calls import ProviderCallRecord
from offline.engine.recording import OfflineMocks, RecordingMonitor, Registration
from offline.modes import PREVIEW, UPDATE
from offline.policy.analyzer import UNKNOWN_STRING as UNKNOWN

__all__ = ["PROJECT", "UNKNOWN", "Registration", "Run", "run_under_mocks"]

PROJECT = "resilient-serverless"


@dataclass
class Run:
    resources: list[Registration]
    result: Any
    #: Every provider function (invoke) the code called, in call order, with its answer's kind.
    calls: list[ProviderCallRecord] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Registration]:
        return [resource for resource in self.resources if resource.type == typ]

    def named(self, name: str) -> Registration:
        return next(resource for resource in self.resources if resource.name == name)


def _settle_after_failure(loop: asyncio.AbstractEventLoop) -> None:
    """A failed run (e.g. an `apply` that raised) leaves RPCs and outputs pending: finish them
    on this loop, their errors dropped (the first one is raised), so the next run starts clean."""
    from pulumi.runtime.settings import SETTINGS

    for _ in range(1000):
        manager = SETTINGS.rpc_manager
        pending: list[Any] = list(manager.rpcs)
        manager.rpcs.clear()
        with SETTINGS.lock:
            pending.extend(SETTINGS.outputs)
            SETTINGS.outputs.clear()
        if not pending:
            break
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    SETTINGS.rpc_manager.clear()


def run_under_mocks(
    build: Callable[[], Any],
    *,
    config: Mapping[str, Any] | None = None,
    preview: bool = False,
    stack: str = "test",
) -> Run:
    """Run `build` as a program under mocks; return every registration and `build`'s result."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = OfflineMocks(mode=PREVIEW if preview else UPDATE, default_region="us-east-1")
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_all_config(
        {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in (config or {}).items()
        }
    )
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    try:
        try:
            result = build()
        finally:
            # Let what the program registered before it returned (or raised) settle.
            try:
                loop.run_until_complete(wait_for_rpcs())
            except BaseException:
                _settle_after_failure(loop)
                raise
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return Run(
        resources=sorted(monitor.registrations, key=lambda r: r.sequence),
        result=result,
        calls=list(mocks.calls),
    )
