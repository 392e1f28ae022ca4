"""The components, run under mocks with the prod config, against the real policy pack over its
gRPC protocol: zero violations as built, and exactly the expected policy for each seeded defect,
in every shape the engine can send (offline/modes.py): a new stack's preview, an update, the
raw inputs, and outputs only."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

import pytest
from harness import Registration, Run
from program_runs import prod_config, run_program

from offline.engine.recording import engine_view
from offline.modes import INPUTS, MODES, OUTPUTS_ONLY, runs_as_preview
from offline.policy.analyzer import Diagnostic, PolicyPackProcess
from offline.policy.policy_runner import snapshot_of

_RUNS: dict[str, Run] = {}


def prod(mode: str) -> Run:
    """The prod program's registrations: run as a preview for the preview-like shapes."""
    preview = runs_as_preview(mode)
    if preview not in _RUNS:
        _RUNS[preview] = run_program(prod_config(), preview=preview)
    return _RUNS[preview]


def verdicts(pack: PolicyPackProcess, resources: list[Registration], mode: str) -> list[Diagnostic]:
    """What the engine would ask in `mode`, from the (possibly seeded) registrations: Configure
    (a new deployment), Analyze per custom resource, AnalyzeStack once. The engine's view of
    each resource is computed again from its inputs, since a seed may have changed them."""
    pack.configure({})
    found: list[Diagnostic] = []
    stack = []
    for registration in resources:
        _, checked, state = engine_view(registration, mode, "us-east-1")
        if mode == INPUTS or not registration.custom:
            state = checked
        stack.append(snapshot_of(registration, state or checked, links=mode != OUTPUTS_ONLY))
        if registration.custom and mode != OUTPUTS_ONLY:
            found.extend(pack.analyze(snapshot_of(registration, checked)))
    found.extend(pack.analyze_stack(stack))
    return found


@pytest.mark.parametrize("mode", MODES)
def test_prod_stack_has_no_violation(pack: PolicyPackProcess, mode: str) -> None:
    found = verdicts(pack, prod(mode).resources, mode)
    assert found == [], [(d.policy, d.urn, d.message) for d in found]


def _one(resources: list[Registration], match: Callable[[Registration], bool]) -> Registration:
    hits = [r for r in resources if match(r)]
    assert hits, "the seeded resource is not in the stack"
    return hits[0]


def _name_ends(suffix: str, region: str = "us-east-1") -> Callable[[Registration], bool]:
    return lambda r: r.name.endswith(suffix) and region in r.name


def short_visibility(resources: list[Registration]) -> list[Registration]:
    _one(resources, _name_ends("-worker-queue")).inputs["visibilityTimeoutSeconds"] = 30
    _one(resources, _name_ends("-worker-consumer-fn")).inputs["timeout"] = 60
    return resources


def queue_without_dlq(resources: list[Registration]) -> list[Registration]:
    # In every region: a DLQ missing in one region only is also an asymmetry between regions,
    # which multi-region-active-active reports on its own.
    return [r for r in resources if not r.name.endswith("-worker-redrive")]


def mapping_without_partial_failures(resources: list[Registration]) -> list[Registration]:
    del _one(resources, _name_ends("-worker-mapping")).inputs["functionResponseTypes"]
    return resources


def slow_api_function(resources: list[Registration]) -> list[Registration]:
    _one(resources, _name_ends("-api-fn")).inputs["timeout"] = 40
    return resources


def table_missing_replica(resources: list[Registration]) -> list[Registration]:
    # The global table (the regional ones, tagged single-region, have no replicas to remove).
    table = _one(
        resources, lambda r: r.type == "aws:dynamodb/table:Table" and bool(r.inputs.get("replicas"))
    )
    table.inputs["replicas"] = []
    return resources


def record_without_health_check(resources: list[Registration]) -> list[Registration]:
    record = _one(resources, _name_ends("-latency", region="eu-west-1"))
    del record.inputs["healthCheckId"]
    record.property_dependencies.pop("healthCheckId", None)
    return resources


def dlq_without_alarm(resources: list[Registration]) -> list[Registration]:
    alarm = _one(resources, _name_ends("-worker-dlq-depth"))
    return [r for r in resources if r is not alarm]


def saga_step_without_catch(resources: list[Registration]) -> list[Registration]:
    machine = _one(resources, _name_ends("-saga-state-machine"))
    definition = json.loads(machine.inputs["definition"])
    del definition["States"]["BookFlight"]["Catch"]
    machine.inputs["definition"] = json.dumps(definition)
    return resources


def saga_untraced(resources: list[Registration]) -> list[Registration]:
    _one(resources, _name_ends("-saga-state-machine")).inputs["tracingConfiguration"] = {
        "enabled": False
    }
    return resources


def stream_consumer_unwatched(resources: list[Registration]) -> list[Registration]:
    alarm = _one(resources, _name_ends("-events-iterator-age"))
    return [r for r in resources if r is not alarm]


SEEDED = [
    (short_visibility, "sqs-visibility-timeout-ratio"),
    (queue_without_dlq, "sqs-dead-letter-queue"),
    (mapping_without_partial_failures, "sqs-partial-batch-response"),
    (slow_api_function, "api-integration-timeout"),
    (table_missing_replica, "dynamodb-global-table"),
    (record_without_health_check, "route53-latency-health-check"),
    (dlq_without_alarm, "dlq-alarm"),
    (saga_step_without_catch, "step-functions-retry-catch"),
    (saga_untraced, "step-functions-logging-tracing"),
    (stream_consumer_unwatched, "kinesis-iterator-age-alarm"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("seed", "policy"), SEEDED, ids=[policy for _, policy in SEEDED])
def test_seeded_defect_yields_exactly_its_policy(
    pack: PolicyPackProcess,
    mode: str,
    seed: Callable[[list[Registration]], list[Registration]],
    policy: str,
) -> None:
    resources = seed(copy.deepcopy(prod(mode).resources))
    found = verdicts(pack, resources, mode)
    assert found, f"{policy}: no violation for the seeded defect"
    assert {d.policy for d in found} == {policy}, [(d.policy, d.message) for d in found]
    assert all(d.level == "mandatory" for d in found)
    assert all(d.urn for d in found)
