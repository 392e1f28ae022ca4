"""Configuration from the environment, and the boto3 clients' timeouts, retries and reuse."""

from __future__ import annotations

import pytest

import aws_clients
from aws_clients import CallProfile, config_for
from resilience_policies import thresholds
from task_settings import (
    DEFAULT_METRICS_NAMESPACE,
    DEFAULT_TASK_TTL_SECONDS,
    ConfigurationError,
    load_settings,
    metrics_namespace,
)

COMPLETE_ENV = {
    "TABLE_NAME": "tasks",
    "AWS_REGION": "eu-west-1",
    "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/work",
    "TASK_TTL_SECONDS": "7200",
}


def test_complete_environment() -> None:
    settings = load_settings(COMPLETE_ENV)
    assert settings.table_name == "tasks"
    assert settings.region == "eu-west-1"
    assert settings.task_ttl_seconds == 7200
    assert settings.require_queue_url() == COMPLETE_ENV["QUEUE_URL"]


@pytest.mark.parametrize("variable", ["TABLE_NAME", "AWS_REGION"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_required_variable_missing_or_blank_is_named(variable: str, value: str | None) -> None:
    env = dict(COMPLETE_ENV)
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    with pytest.raises(ConfigurationError) as raised:
        load_settings(env)
    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"Environment variable {variable} is required")


def test_queue_url_is_optional_until_needed() -> None:
    env = {key: value for key, value in COMPLETE_ENV.items() if key != "QUEUE_URL"}
    settings = load_settings(env)
    assert settings.queue_url is None
    with pytest.raises(ConfigurationError, match="QUEUE_URL"):
        settings.require_queue_url()


def test_ttl_default_and_bounds() -> None:
    env = {key: value for key, value in COMPLETE_ENV.items() if key != "TASK_TTL_SECONDS"}
    assert load_settings(env).task_ttl_seconds == DEFAULT_TASK_TTL_SECONDS
    for bad in ["abc", "0", "59", "-5", str(400 * 86400), "1.5"]:
        with pytest.raises(ConfigurationError) as raised:
            load_settings({**COMPLETE_ENV, "TASK_TTL_SECONDS": bad})
        assert raised.value.variable == "TASK_TTL_SECONDS"
        assert repr(bad) in str(raised.value)


def test_metrics_namespace_falls_back() -> None:
    assert metrics_namespace({}) == DEFAULT_METRICS_NAMESPACE
    assert metrics_namespace({"POWERTOOLS_METRICS_NAMESPACE": "Tasks"}) == "Tasks"


# --- Clients ---------------------------------------------------------------------------------


def test_every_profile_sets_timeouts_and_standard_retries_explicitly() -> None:
    for profile in CallProfile:
        config = config_for(profile)
        assert config.connect_timeout is not None and config.connect_timeout <= 2
        assert config.read_timeout is not None and config.read_timeout <= 5
        assert config.retries["mode"] == "standard"
        assert config.retries["total_max_attempts"] >= 1


def test_request_profile_fits_inside_the_api_function_timeout() -> None:
    """Worst case for one call (all attempts time out) must end before API Gateway gives up."""
    config = config_for(CallProfile.REQUEST)
    worst_case_s = config.retries["total_max_attempts"] * (
        config.connect_timeout + config.read_timeout
    )
    assert worst_case_s < thresholds.max_api_function_timeout_s()


def test_health_profile_is_one_short_attempt() -> None:
    config = config_for(CallProfile.HEALTH)
    assert config.retries["total_max_attempts"] == 1
    # Both probes run in parallel, so one probe's worst case is the check's worst case; Route53
    # health checkers expect an answer within a few seconds.
    assert config.connect_timeout + config.read_timeout <= 2


def test_clients_are_created_once_and_reused() -> None:
    first = aws_clients.client("dynamodb", "eu-west-1", CallProfile.REQUEST)
    assert aws_clients.client("dynamodb", "eu-west-1", CallProfile.REQUEST) is first
    health = aws_clients.client("dynamodb", "eu-west-1", CallProfile.HEALTH)
    assert health is not first
    assert health.meta.config.read_timeout == config_for(CallProfile.HEALTH).read_timeout
    assert first.meta.region_name == "eu-west-1"
    aws_clients.reset_clients()
    assert aws_clients.client("dynamodb", "eu-west-1", CallProfile.REQUEST) is not first
