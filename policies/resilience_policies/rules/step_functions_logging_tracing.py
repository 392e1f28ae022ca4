"""step-functions-logging-tracing: state machines log their executions and trace them.

A saga's failure is explained by its execution: which step failed, with which error, what the
compensations did. STANDARD workflows keep their history for 90 days in the console only, and
EXPRESS workflows keep none: execution logs at level ALL with execution data, in a log group of
the machine's region, are the audit trail that outlives both, and X-Ray tracing links the
execution to the API request that started it and the calls it made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import DEFAULT_REGION, LOG_GROUP, STATE_MACHINE, UNKNOWN_REGION, Resource, StackModel
from ..props import ABSENT, UNKNOWN, at, flag, text
from ..rulekit import Report, stack_policy

NAME = "step-functions-logging-tracing"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (STATE_MACHINE, "loggingConfiguration"),
    (STATE_MACHINE, "tracingConfiguration"),
)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "logLevels",
            "string_list",
            ("ALL",),
            "Logging levels a state machine may use.",
            choices=tuple(level for level in thresholds.STATE_MACHINE_LOG_LEVELS if level != "OFF"),
        ),
        Setting(
            "requireExecutionData",
            "boolean",
            True,
            "Logs must include execution data (each state's input and output).",
        ),
        Setting("requireTracing", "boolean", True, "X-Ray tracing must be enabled."),
    ),
)


def _log_problems(model: StackModel, machine: Resource, settings: Mapping[str, Any]) -> list[str]:
    logging = at(machine.props, "loggingConfiguration")
    if logging is ABSENT:
        return ["it has no loggingConfiguration"]
    if logging is UNKNOWN:
        return []
    problems = []
    level = text(machine.props, "loggingConfiguration", "level")
    allowed = settings["logLevels"]
    if level is not UNKNOWN and level not in allowed:
        shown = "not set (OFF)" if level is ABSENT else f"'{level}'"
        problems.append(f"its logging level is {shown}, not {' or '.join(allowed)}")
    if settings["requireExecutionData"]:
        data = flag(machine.props, "loggingConfiguration", "includeExecutionData")
        if data is ABSENT or data is False:
            problems.append("its logs leave out the execution data (includeExecutionData)")
    if at(machine.props, "loggingConfiguration", "logDestination") is ABSENT:
        problems.append("its logs have no logDestination")
    else:
        for group in model.linked(machine, "loggingConfiguration", (LOG_GROUP,), "logDestination"):
            if group.region != machine.region and {group.region, machine.region}.isdisjoint(
                {DEFAULT_REGION, UNKNOWN_REGION}
            ):
                problems.append(
                    f"its log group '{group.name}' is in {group.region}, not the machine's "
                    f"{machine.region}"
                )
    return problems


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    for machine in model.of_type(STATE_MACHINE):
        problems = _log_problems(model, machine, settings)
        if settings["requireTracing"]:
            tracing = flag(machine.props, "tracingConfiguration", "enabled")
            if tracing is ABSENT or tracing is False:
                problems.append("X-Ray tracing is off (tracingConfiguration.enabled)")
        if not problems:
            continue
        report(
            f"State machine '{machine.name}': {'; '.join(problems)}. A failed saga is then "
            "explained by nothing that outlives its execution history. Fix: "
            "logging_configuration={'level': 'ALL', 'include_execution_data': True, "
            "'log_destination': Output.concat(<log group in its region>.arn, ':*')} and "
            "tracing_configuration={'enabled': True}.",
            machine.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Step Functions state machines log executions at level ALL with execution data to a "
        "log group in their region, and enable X-Ray tracing."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation_steps=(
        "Set loggingConfiguration (level ALL, includeExecutionData, logDestination: a log "
        "group of the machine's region) and tracingConfiguration.enabled."
    ),
)
