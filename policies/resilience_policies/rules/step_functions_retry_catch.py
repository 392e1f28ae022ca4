"""step-functions-retry-catch: every Task state of a state machine retries and catches.

A saga's step calls another service: it fails transiently (a throttle, a 5xx, a timeout) and it
fails for good (no room, no such resource). Without Retry a transient failure fails the whole
execution; without Catch a final failure ends it with nothing compensated: the bookings made so
far stay held. So every Task state, in every branch and iteration, has a Retry (with at least
one attempt) and a Catch, and by default a catcher of last resort (`States.ALL`).

The definition is a JSON string. Built from literals and resource names (which the provider
names before the preview plans them), it is known at preview; built from another resource's
ARN (`Output.json_dumps` over `fn.arn`), it is unknown until `pulumi up`, where this rule runs
again on the known definition.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..config import ConfigSpec, Setting
from ..model import STATE_MACHINE, Resource, StackModel
from ..props import ABSENT, UNKNOWN, json_document
from ..rulekit import Report, stack_policy

NAME = "step-functions-retry-catch"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = ((STATE_MACHINE, "definition"),)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "requireCatchAll",
            "boolean",
            True,
            "Every Task state's Catch must end with a catcher for States.ALL (or "
            "States.TaskFailed), so no failure skips the compensations.",
        ),
    ),
)

#: Catchers that leave no task error uncaught.
CATCH_ALL = frozenset({"States.ALL", "States.TaskFailed"})


def task_states(definition: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, state) for every Task state, in Parallel branches and Map iterations too."""
    states = definition.get("States")
    if not isinstance(states, Mapping):
        return
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        where = f"{path}{name}"
        kind = state.get("Type")
        if kind == "Task":
            yield where, state
        elif kind == "Parallel":
            for index, branch in enumerate(state.get("Branches") or []):
                if isinstance(branch, Mapping):
                    yield from task_states(branch, f"{where}.Branches[{index}].")
        elif kind == "Map":
            for key in ("ItemProcessor", "Iterator"):
                inner = state.get(key)
                if isinstance(inner, Mapping):
                    yield from task_states(inner, f"{where}.{key}.")


def _retries(state: Mapping[str, Any]) -> bool:
    retriers = state.get("Retry")
    if not isinstance(retriers, list):
        return False
    # A retrier's MaxAttempts defaults to 3; 0 means "never retry" for its errors.
    return any(
        isinstance(retrier, Mapping) and retrier.get("MaxAttempts", 3) != 0 for retrier in retriers
    )


def _catches_all(catchers: list[Any]) -> bool:
    return any(
        isinstance(catcher, Mapping) and CATCH_ALL & set(catcher.get("ErrorEquals") or [])
        for catcher in catchers
    )


def problems_of(definition: Any, require_catch_all: bool) -> list[str]:
    """What is wrong with the definition's Task states (empty when nothing is)."""
    if not isinstance(definition, Mapping):
        return ["its definition is not a JSON object, so Step Functions would refuse it"]
    found: list[str] = []
    for where, state in task_states(definition):
        missing = []
        if not _retries(state):
            missing.append("no Retry" if not state.get("Retry") else "a Retry that never retries")
        catchers = state.get("Catch")
        if not isinstance(catchers, list) or not catchers:
            missing.append("no Catch")
        elif require_catch_all and not _catches_all(catchers):
            missing.append("no Catch for States.ALL")
        if missing:
            found.append(f"Task state '{where}' has {' and '.join(missing)}")
    return found


def _check_one(machine: Resource, settings: Mapping[str, Any], report: Report) -> None:
    definition = json_document(machine.props, "definition")
    if definition is UNKNOWN or definition is ABSENT:
        return  # computed from another resource's output: decided by `pulumi up`
    problems = problems_of(definition, settings["requireCatchAll"])
    if not problems:
        return
    report(
        f"State machine '{machine.name}': {'; '.join(problems)}. A transient error then fails "
        "the execution, and a final one ends it without running the compensations of the "
        'steps already done. Fix: give each Task state "Retry": [{"ErrorEquals": [<its '
        'transient errors>], "MaxAttempts": 3, "BackoffRate": 2, "JitterStrategy": '
        '"FULL"}] and "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": '
        '"$.failure", "Next": <its compensation>}].',
        machine.urn,
    )


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    for machine in model.of_type(STATE_MACHINE):
        _check_one(machine, settings, report)


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Every Task state of a Step Functions state machine (in branches and iterations too) "
        "has a Retry and a Catch, ending with States.ALL."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Add Retry (transient errors, MaxAttempts >= 1, backoff, jitter) and Catch (ending with "
        "States.ALL, Next: the compensation) to every Task state of the definition."
    ),
)
