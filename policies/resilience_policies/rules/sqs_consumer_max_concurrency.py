"""sqs-consumer-max-concurrency: an SQS consumer's concurrency is capped at the mapping.

Throttling everywhere, including behind the queue: a backlog otherwise scales the consumer to
the account's concurrency, which starves the API functions and hammers the table (and a
reserved-concurrency cap instead makes the poller receive messages it cannot run, which then
count towards the DLQ). The mapping's maximum concurrency caps it without that side effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import EVENT_SOURCE_MAPPING, SQS, mapping_kind_from_inputs
from ..props import ABSENT, Marker, at, number, whole
from ..rulekit import Report, resource_policy

NAME = "sqs-consumer-max-concurrency"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (EVENT_SOURCE_MAPPING, "scalingConfig"),
    (EVENT_SOURCE_MAPPING, "eventSourceArn"),
)


def _remediation_within_limit(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    if values["remediationMaximumConcurrency"] > values["maximumConcurrencyLimit"]:
        return [
            (
                "remediationMaximumConcurrency",
                f"({values['remediationMaximumConcurrency']}) is above maximumConcurrencyLimit "
                f"({values['maximumConcurrencyLimit']}); lower it.",
            )
        ]
    return []


#: The resource types this policy looks at (it ignores every other).
RESOURCE_TYPES = (EVENT_SOURCE_MAPPING,)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "maximumConcurrencyLimit",
            "integer",
            thresholds.SQS_MAX_CONCURRENCY_MAX,
            "Highest scalingConfig.maximumConcurrency a mapping may have.",
            minimum=thresholds.SQS_MAX_CONCURRENCY_MIN,
            maximum=thresholds.SQS_MAX_CONCURRENCY_MAX,
        ),
        Setting(
            "remediationMaximumConcurrency",
            "integer",
            thresholds.SQS_MAX_CONCURRENCY_DEFAULT,
            "The maximumConcurrency the 'remediate' level sets on a mapping without one.",
            minimum=thresholds.SQS_MAX_CONCURRENCY_MIN,
            maximum=thresholds.SQS_MAX_CONCURRENCY_MAX,
        ),
    ),
    cross_checks=(_remediation_within_limit,),
)


def _problem(props: dict[str, Any], settings: Mapping[str, Any]) -> tuple[str, int] | None:
    """(what is wrong, the value that fixes it) or None."""
    if mapping_kind_from_inputs(props) != SQS:
        return None
    value = number(props, "scalingConfig", "maximumConcurrency")
    limit = settings["maximumConcurrencyLimit"]
    if value is ABSENT:
        return "scalingConfig.maximumConcurrency is not set", settings[
            "remediationMaximumConcurrency"
        ]
    if isinstance(value, Marker):
        return None
    if value < thresholds.SQS_MAX_CONCURRENCY_MIN:
        return (
            f"scalingConfig.maximumConcurrency is {whole(value)}, below Lambda's minimum of "
            f"{thresholds.SQS_MAX_CONCURRENCY_MIN}",
            thresholds.SQS_MAX_CONCURRENCY_MIN,
        )
    if value > limit:
        return f"scalingConfig.maximumConcurrency is {whole(value)}, above {limit}", limit
    return None


def check(type_: str, props: dict[str, Any], settings: Mapping[str, Any], report: Report) -> None:
    problem = _problem(props, settings)
    if problem is None:
        return
    report(
        f"This SQS event source mapping: {problem[0]}. A backlog would scale the consumer up to "
        "the account's concurrency, starving other functions and flooding what it writes to. "
        f"Fix: scaling_config={{'maximum_concurrency': {problem[1]}}} (the 'remediate' level "
        "sets it)."
    )


def remediate(
    type_: str, view: dict[str, Any], target: dict[str, Any], settings: Mapping[str, Any]
) -> dict[str, Any] | None:
    problem = _problem(view, settings)
    if problem is None:
        return None
    scaling = at(view, "scalingConfig")
    target["scalingConfig"] = {
        **(scaling if isinstance(scaling, dict) else {}),
        "maximumConcurrency": problem[1],
    }
    return target


POLICY = resource_policy(
    config=CONFIG,
    description=(
        "SQS event source mappings cap their consumer with scalingConfig.maximumConcurrency."
    ),
    resource_types=RESOURCE_TYPES,
    check=check,
    remediate=remediate,
    level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps=(
        "Set scalingConfig.maximumConcurrency on the mapping (the 'remediate' level sets the "
        "configured value)."
    ),
)
