"""Task ids that name their region and creation time, and the decision a GET makes from them
when this region's replica has no such task."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from task_model import (
    MAX_CLOCK_SKEW_MS,
    REPLICATION_RETRY_AFTER_S,
    TaskId,
    ValidationError,
    idempotent_task_id,
    lenient_task_id,
    parse_task_id,
    regional_task_id,
    replication_hint,
)
from task_settings import (
    DEFAULT_REPLICATION_GRACE_SECONDS,
    ConfigurationError,
    load_settings,
)

KEY = "0f8fad5b-d9cb-469f-a165-70867728950e"
CREATED_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
GRACE_MS = 60_000
REGIONS = [
    "eu-west-1",
    "us-east-1",
    "ap-southeast-2",
    "us-gov-west-1",
    "cn-north-1",
    "il-central-1",
]


def test_a_regional_id_reads_back_as_its_parts() -> None:
    task_id = regional_task_id("eu-west-1", CREATED_MS, KEY)
    assert task_id == f"eu-west-1.1767225600000.{KEY}"
    assert parse_task_id(task_id) == TaskId(KEY, "eu-west-1", CREATED_MS)
    assert str(parse_task_id(task_id)) == task_id


def test_an_old_id_is_its_key_and_names_no_region() -> None:
    parsed = parse_task_id(KEY)
    assert parsed == TaskId(KEY)
    assert str(parsed) == KEY


def test_the_time_is_zero_padded_so_a_regions_ids_sort_by_time() -> None:
    early = regional_task_id("eu-west-1", 999_999_999_999, KEY)
    late = regional_task_id("eu-west-1", 1_000_000_000_000, KEY)
    assert early == f"eu-west-1.0999999999999.{KEY}"
    assert early < late


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "health-check",
        KEY.upper(),
        f"eu-west-1.{KEY}",  # no time
        f"eu-west-1.176722560000.{KEY}",  # 12 digits
        f"eu-west-1.17672256000000.{KEY}",  # 14 digits
        f"EU-WEST-1.1767225600000.{KEY}",
        f"europe.1767225600000.{KEY}",
        f"eu-west-1.1767225600000.{KEY.upper()}",
        f"eu-west-1.1767225600000.{KEY.replace('-469f-', '-169f-')}",  # not a UUID4
        f"eu-west-1_1767225600000_{KEY}",
        f"eu-west-1.1767225600000.{KEY}.",
        f" eu-west-1.1767225600000.{KEY}",
        f"eu-west-1.1767225600000.{KEY}\n",
    ],
)
def test_malformed_ids_name_the_field_and_the_format(bad: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_task_id(bad)
    assert raised.value.field == "taskId"
    assert "<region>.<creation time" in raised.value.expected
    assert "UUID4" in raised.value.expected


def test_ids_are_only_made_from_valid_parts() -> None:
    with pytest.raises(ValueError, match="region"):
        regional_task_id("Europe", CREATED_MS, KEY)
    with pytest.raises(ValueError, match="creation time"):
        regional_task_id("eu-west-1", 10**13, KEY)
    with pytest.raises(ValidationError):
        regional_task_id("eu-west-1", CREATED_MS, "not-a-key")


def test_a_message_carrying_a_client_id_still_names_its_task_key() -> None:
    task_id = regional_task_id("us-east-1", CREATED_MS, KEY)
    assert lenient_task_id(json.dumps({"taskId": task_id, "request": "broken"})) == KEY
    assert lenient_task_id(json.dumps({"taskId": KEY})) == KEY
    assert lenient_task_id(json.dumps({"taskId": f"us-east-1.{KEY}"})) is None


# --- The decision on a miss ----------------------------------------------------------------


def _other(age_ms: int) -> TaskId:
    return TaskId(KEY, "us-east-1", CREATED_MS - age_ms)


@pytest.mark.parametrize(
    ("task_id", "expected"),
    [
        # Written in another region moments ago: it may not have arrived yet.
        (_other(300), ("us-east-1", REPLICATION_RETRY_AFTER_S)),
        (_other(0), ("us-east-1", REPLICATION_RETRY_AFTER_S)),
        # Near the end of the grace period, the hint never outlasts it (but is at least 1 s).
        (_other(GRACE_MS - 2_000), ("us-east-1", 2)),
        (_other(GRACE_MS - 1_999), ("us-east-1", 1)),
        (_other(GRACE_MS - 1_000), ("us-east-1", 1)),
        (_other(GRACE_MS - 1), ("us-east-1", 1)),
        # Past the grace period: it had time to arrive, so the miss is an answer.
        (_other(GRACE_MS), None),
        (_other(GRACE_MS * 100), None),
        # A clock a little ahead is tolerated; an id from further in the future is not ours.
        (_other(-MAX_CLOCK_SKEW_MS), ("us-east-1", REPLICATION_RETRY_AFTER_S)),
        (_other(-MAX_CLOCK_SKEW_MS - 1), None),
        # This region's own write: read strongly consistently, so a miss is final.
        (TaskId(KEY, "eu-west-1", CREATED_MS - 300), None),
        # An id from before ids named their region.
        (TaskId(KEY), None),
    ],
)
def test_replication_hint(task_id: TaskId, expected: tuple[str, int] | None) -> None:
    hint = replication_hint(task_id, "eu-west-1", CREATED_MS, GRACE_MS)
    got = None if hint is None else (hint.written_region, hint.retry_after_s)
    assert got == expected


# --- Properties ----------------------------------------------------------------------------

regions = st.sampled_from(REGIONS)
times_ms = st.integers(min_value=0, max_value=10**13 - 1)
keys = st.uuids(version=4).map(str)


@settings(max_examples=300, deadline=None)
@given(regions, times_ms, keys)
def test_every_issued_id_parses_back_to_its_parts(region: str, created_ms: int, key: str) -> None:
    task_id = regional_task_id(region, created_ms, key)
    assert parse_task_id(task_id) == TaskId(key, region, created_ms)
    # URL-safe as it is: only unreserved characters, nothing to escape in a path.
    assert all(c.isascii() and (c.isalnum() or c in "-.") for c in task_id)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=120), st.builds(str, st.uuids())))
def test_any_text_is_an_id_or_an_error_naming_task_id(text: str) -> None:
    try:
        parsed = parse_task_id(text)
    except ValidationError as error:
        assert error.field == "taskId"
        return
    assert str(parsed) == text


@settings(max_examples=300, deadline=None)
@given(
    regions,
    regions,
    st.integers(min_value=-10 * GRACE_MS, max_value=10 * GRACE_MS),
    st.integers(min_value=1_000, max_value=3_600_000),
)
def test_a_hint_is_only_for_a_recent_write_elsewhere_and_stays_within_the_grace(
    written_in: str, this_region: str, age_ms: int, grace_ms: int
) -> None:
    task_id = TaskId(KEY, written_in, CREATED_MS)
    hint = replication_hint(task_id, this_region, CREATED_MS + age_ms, grace_ms)
    recent = -MAX_CLOCK_SKEW_MS <= age_ms < grace_ms
    assert (hint is not None) == (written_in != this_region and recent)
    if hint is not None:
        assert hint.written_region == written_in
        assert 1 <= hint.retry_after_s <= REPLICATION_RETRY_AFTER_S
        # Asking again after Retry-After is still within the grace period, unless the grace
        # period has less than a second left.
        assert age_ms + hint.retry_after_s * 1000 <= grace_ms or grace_ms - age_ms < 1000


def test_the_same_idempotency_key_names_the_same_key_whatever_the_region_or_time() -> None:
    key = idempotent_task_id("order-1", "0" * 64)
    first = regional_task_id("eu-west-1", CREATED_MS, key)
    retry_elsewhere = regional_task_id("us-east-1", CREATED_MS + 5_000, key)
    assert first != retry_elsewhere
    assert parse_task_id(first).key == parse_task_id(retry_elsewhere).key == key


# --- Settings ------------------------------------------------------------------------------

ENVIRONMENT = {"TABLE_NAME": "tasks", "AWS_REGION": "eu-west-1"}


def test_the_grace_period_defaults_to_a_minute_and_can_be_set() -> None:
    assert load_settings(ENVIRONMENT).replication_grace_s == DEFAULT_REPLICATION_GRACE_SECONDS == 60
    chosen = load_settings({**ENVIRONMENT, "REPLICATION_GRACE_SECONDS": "300"})
    assert chosen.replication_grace_s == 300


@pytest.mark.parametrize("value", ["0", "-5", "3601", "a minute", "1.5"])
def test_an_invalid_grace_period_is_named(value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**ENVIRONMENT, "REPLICATION_GRACE_SECONDS": value})
    assert raised.value.variable == "REPLICATION_GRACE_SECONDS"
    assert "1 to 3600" in str(raised.value)


@pytest.mark.parametrize("region", ["local", "EU-WEST-1", "eu-west", str(uuid.uuid4())])
def test_a_region_that_cannot_go_into_an_id_is_named(region: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**ENVIRONMENT, "AWS_REGION": region})
    assert raised.value.variable == "AWS_REGION"
    assert "eu-west-1" in str(raised.value)
