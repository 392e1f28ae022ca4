"""The pack's contents: its name, its policies in order, their settings and their doc pages."""

from __future__ import annotations

import importlib
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from types import ModuleType
from typing import Final

from pulumi_policy import Policy

from .config import ConfigSpec

PACK_NAME: Final[str] = "resilient-serverless"

#: One module per policy under `resilience_policies.rules`, mandatory ones first.
RULE_MODULES: Final[tuple[str, ...]] = (
    "sqs_visibility_timeout_ratio",
    "api_integration_timeout",
    "sqs_dead_letter_queue",
    "dlq_retention",
    "dlq_alarm",
    "sqs_partial_batch_response",
    "stream_poison_message",
    "dynamodb_global_table",
    "route53_latency_health_check",
    "multi_region_active_active",
    "retiring_region",
    "lambda_async_failure_destination",
    "iam_no_wildcard_actions",
    "step_functions_retry_catch",
    "step_functions_logging_tracing",
    "kinesis_iterator_age_alarm",
    "api_throttling",
    "sqs_consumer_max_concurrency",
    "lambda_tracing",
    "lambda_log_retention",
    "encryption_at_rest",
    "single_region_service",
    "dynamodb_point_in_time_recovery",
    "kinesis_retention",
)


@cache
def rule_modules() -> tuple[ModuleType, ...]:
    return tuple(
        importlib.import_module(f"{__package__}.rules.{module}") for module in RULE_MODULES
    )


def all_policies() -> list[Policy]:
    """The pack's policies, in the order the engine lists them."""
    return [module.POLICY for module in rule_modules()]


def config_specs() -> dict[str, ConfigSpec]:
    """Policy name -> its settings."""
    return {module.CONFIG.policy: module.CONFIG for module in rule_modules()}


def doc_page(policy_name: str) -> Traversable:
    """The policy's documentation page, shipped with the package."""
    return resources.files(__package__).joinpath("docs", f"{policy_name}.md")
