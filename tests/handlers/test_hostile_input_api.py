"""Hostile input on every route of the task API and the bookings API, driven through the
handlers as Lambda calls them (API Gateway REST proxy events from an identified caller).

The property throughout: no input gives a 5xx or logs a traceback; every refusal is a JSON 4xx,
and a 400 names the field as ValidationError.to_dict does (error, field, expected, message).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

import pytest
from handler_test_support import FakeLambdaContext, api_event, call_api, create_resources
from hostile_strategies import (
    OPTIONAL_CONTEXT_FIELDS,
    TRIP,
    UUID4,
    assert_json_refusal,
    bad_idempotency_keys,
    bad_ids,
    captured_logs,
    content_types,
    deep_json,
    hostile_json,
    invalid_base64,
    invalid_utf8_base64,
    methods,
    non_string_bodies,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import saga_api
import saga_model
import task_api
import task_model

#: Reproducible in CI (a fixed seed, no example database) and bounded in time; the fixtures
#: are shared by all examples of a test, which is what they are for here.
HOSTILE = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FEW = settings(HOSTILE, max_examples=25)
CALLER = {
    "sourceIp": "203.0.113.7",
    "userAgent": "hostile-input-tests",
    "userArn": "arn:aws:iam::123456789012:user/alice",
    "apiKeyId": "k1",
}
TASK_TEMPLATES = [
    '{"taskType":"sum","parameters":{"numbers":[%s]}}',
    '{"taskType":"sum","parameters":{"numbers":%s}}',
    '{"taskType":"sha256","parameters":{"text":%s}}',
    '{"taskType":"count_primes","parameters":{"below":%s}}',
    '{"taskType":%s,"parameters":{"text":"x"}}',
    '{"taskType":"word_count","parameters":%s}',
]
TASK_PAIRS = [("taskType", '"sha256"'), ("parameters", '{"text":"x"}')]
BOOKING_TEMPLATES = [
    '{"hotelId":%s,"flightId":"f-1","carId":"c-1","bookingId":"' + UUID4 + '"}',
    '{"hotelId":"h-1","flightId":"f-1","carId":"c-1","bookingId":%s}',
    '{"hotelId":"h-1","flightId":"f-1","carId":%s}',
]
BOOKING_PAIRS = [(name, json.dumps(value)) for name, value in TRIP.items()] + [
    ("bookingId", json.dumps(UUID4))
]
hostile_task_bodies = hostile_json(TASK_TEMPLATES, TASK_PAIRS)
hostile_booking_bodies = hostile_json(BOOKING_TEMPLATES, BOOKING_PAIRS)
#: Every route of each API, with its method (the probe's last segment is a secret in a
#: deployment; any segment reaches the route here).
TASK_ROUTES = [
    ("POST", "/tasks"),
    ("GET", f"/tasks/{UUID4}"),
    ("GET", "/health"),
    ("GET", "/health/probe-secret"),
]
BOOKING_ROUTES = [("POST", "/bookings"), ("GET", f"/bookings/{UUID4}")]


@pytest.fixture(scope="module")
def world() -> Iterator[None]:
    """A moto account with the tasks table and queue, shared by every example of the module;
    a state machine ARN with nothing behind it (no hostile request may get as far as it)."""
    from moto import mock_aws

    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        resources = create_resources(endpoint_url=None)
        patch.setenv("TABLE_NAME", resources.table_name)
        patch.setenv("QUEUE_URL", resources.queue_url)
        patch.setenv("TASK_TTL_SECONDS", "3600")
        patch.setenv(
            "STATE_MACHINE_ARN", "arn:aws:states:eu-west-1:123456789012:stateMachine:bookings"
        )
        yield


def event(
    method: str,
    path: str,
    body: object = None,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    is_base64_encoded: bool = False,
    headers: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """An API Gateway event from CALLER, with `headers` added (None values: left out)."""
    built = api_event(
        method,
        path,
        None,
        resource=resource,
        path_parameters=path_parameters,
        is_base64_encoded=is_base64_encoded,
    )
    built["body"] = body
    built["requestContext"]["identity"] = dict(CALLER)
    for name, value in (headers or {}).items():
        for key in [key for key in built["headers"] if key.lower() == name.lower()]:
            del built["headers"][key]
            del built["multiValueHeaders"][key]
        if value is not None:
            built["headers"][name] = value
            built["multiValueHeaders"][name] = [value]
    return built


def answer(handler: Callable[..., Any], sent: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The handler's answer, checked to be JSON, with nothing logged as a traceback."""
    with captured_logs(task_api.logger.registered_handler) as logs:
        answered = call_api(handler, FakeLambdaContext(), sent)
    logs.assert_no_traceback()
    assert answered.headers["Content-Type"] == "application/json", answered
    assert isinstance(answered.body, dict) and answered.body, answered
    return answered.status_code, answered.body


def refused(handler: Callable[..., Any], sent: dict[str, Any]) -> dict[str, Any]:
    status, body = answer(handler, sent)
    assert_json_refusal(status, body)
    return body


def test_both_apis_log_through_one_handler() -> None:
    """The log capture sees the bookings API too: both loggers share the service's handler."""
    assert saga_api.logger.registered_handler is task_api.logger.registered_handler


def test_a_valid_submit_is_accepted_through_the_same_events(world: None) -> None:
    """Control: the events these tests build reach the handler's success path, so a refusal
    below is the handler's answer to the hostile part alone."""
    body = json.dumps({"taskType": "sum", "parameters": {"numbers": [1, 2]}})
    status, answered = answer(task_api.handler, event("POST", "/tasks", body))
    assert status == 202, answered
    assert task_model.parse_task_id(answered["taskId"])


# --- Bodies ------------------------------------------------------------------------------------


@HOSTILE
@given(body=hostile_task_bodies, base64_encoded=st.booleans())
def test_hostile_task_bodies_are_400_naming_the_field(
    world: None, body: str, base64_encoded: bool
) -> None:
    """Property: deep nesting, huge numbers, NaN/Infinity, lone surrogates, duplicate keys,
    non-object JSON and non-JSON, sent plainly or base64-encoded, are each a 400 naming a field
    of the request (never a 500, never a logged traceback)."""
    sent = body
    if base64_encoded:
        sent = base64.b64encode(body.encode("utf-8", errors="surrogatepass")).decode("ascii")
    answered = refused(
        task_api.handler, event("POST", "/tasks", sent, is_base64_encoded=base64_encoded)
    )
    assert answered["error"] == "InvalidRequest"
    assert answered["field"].split(".")[0].split("[")[0] in {"body", "taskType", "parameters"}


@HOSTILE
@given(body=hostile_booking_bodies, base64_encoded=st.booleans())
def test_hostile_booking_bodies_are_400_naming_the_field(
    world: None, body: str, base64_encoded: bool
) -> None:
    """Property: the same hostile bodies sent to POST /bookings are each a 400 naming the body
    or one of the booking's fields."""
    sent = body
    if base64_encoded:
        sent = base64.b64encode(body.encode("utf-8", errors="surrogatepass")).decode("ascii")
    answered = refused(
        saga_api.handler, event("POST", "/bookings", sent, is_base64_encoded=base64_encoded)
    )
    assert answered["error"] == "InvalidRequest"
    named = answered["field"].split("[")[0]
    assert named in {"body", "bookingId", *saga_model.TRIP_FIELDS}, answered


@HOSTILE
@given(body=deep_json)
def test_deep_nesting_is_400_naming_the_body_and_the_limit(world: None, body: str) -> None:
    """Property: JSON nested deeper than MAX_JSON_DEPTH is refused before it is parsed, on both
    APIs: a 400 for `body` that names the depth limit, or (beyond the size limit) the size."""
    for handler, path, limit in (
        (task_api.handler, "/tasks", task_model.MAX_BODY_BYTES),
        (saga_api.handler, "/bookings", saga_model.MAX_BODY_BYTES),
    ):
        answered = refused(handler, event("POST", path, body))
        assert answered["field"] == "body", answered
        if len(body) <= limit:
            assert f"at most {task_model.MAX_JSON_DEPTH} levels" in answered["expected"]
        else:
            assert f"at most {limit} bytes" in answered["expected"]


def test_the_known_depth_bugs_are_400() -> None:
    """The reported inputs: 8,000 levels inside the 16 KB task limit and 2,000 inside the 4 KB
    booking limit (RecursionError and a 500 before)."""
    with pytest.raises(task_model.ValidationError) as task_error:
        task_model.parse_task_request("[" * 8_000 + "]" * 8_000)
    assert task_error.value.field == "body" and "64 levels" in task_error.value.expected
    with pytest.raises(saga_model.BookingValidationError) as booking_error:
        saga_model.parse_booking_request("[" * 2_000 + "]" * 2_000, idempotency_key="k")
    assert booking_error.value.field == "body" and "64 levels" in booking_error.value.expected


@HOSTILE
@given(
    body=st.one_of(invalid_base64, invalid_utf8_base64),
    path=st.sampled_from(["/tasks", "/bookings"]),
)
def test_bad_base64_and_bad_utf8_are_400_naming_the_body(world: None, body: str, path: str) -> None:
    """Property: with isBase64Encoded true, a body that is not base64, or whose bytes are not
    UTF-8, is a 400 naming `body`."""
    handler = task_api.handler if path == "/tasks" else saga_api.handler
    answered = refused(handler, event("POST", path, body, is_base64_encoded=True))
    assert answered["field"] == "body", answered


@HOSTILE
@given(body=non_string_bodies, path=st.sampled_from(["/tasks", "/bookings"]))
def test_bodies_that_are_not_strings_are_400_naming_the_body(
    world: None, body: object, path: str
) -> None:
    """Property: an event whose body is not a string (an object, a list, a number, bytes: a
    hand-built event) is a 400 naming `body`, or the empty-body refusal for a falsy one."""
    handler = task_api.handler if path == "/tasks" else saga_api.handler
    answered = refused(handler, event("POST", path, body))
    assert answered["field"] == "body", answered


@FEW
@given(body=st.sampled_from(["", None, "   ", "\n"]), path=st.sampled_from(["/tasks", "/bookings"]))
def test_empty_bodies_are_400_naming_the_body(world: None, body: str | None, path: str) -> None:
    """Property: an empty, missing or blank body is a 400 naming `body`."""
    handler = task_api.handler if path == "/tasks" else saga_api.handler
    answered = refused(handler, event("POST", path, body))
    assert answered["field"] == "body", answered


# --- Headers -----------------------------------------------------------------------------------


@HOSTILE
@given(
    content_type=content_types,
    big_header=st.sampled_from([None, "v" * 10_000, "\x7f" * 100]),
    body=hostile_task_bodies,
)
def test_odd_content_types_and_huge_headers_change_nothing(
    world: None, content_type: str | None, big_header: str | None, body: str
) -> None:
    """Property: a wrong, missing, odd or 10,000-character Content-Type, and other headers of
    10,000 characters, leave the answer to a hostile body a 400 naming a field."""
    headers = {"Content-Type": content_type, "X-Padding": big_header}
    refused(task_api.handler, event("POST", "/tasks", body, headers=headers))
    refused(saga_api.handler, event("POST", "/bookings", body, headers=headers))


@HOSTILE
@given(key=bad_idempotency_keys)
def test_garbage_idempotency_keys_are_400_naming_the_header(world: None, key: str) -> None:
    """Property: an Idempotency-Key that is empty, blank, padded, non-ASCII, a control
    character or longer than 255 characters is a 400 naming the header, on a body that is
    otherwise valid (so nothing is written or started)."""
    task_body = json.dumps({"taskType": "sum", "parameters": {"numbers": [1]}})
    headers = {"Idempotency-Key": key}
    answered = refused(task_api.handler, event("POST", "/tasks", task_body, headers=headers))
    assert answered["field"] == "Idempotency-Key", answered
    answered = refused(
        saga_api.handler, event("POST", "/bookings", json.dumps(TRIP), headers=headers)
    )
    assert answered["field"] == "Idempotency-Key", answered


# --- Ids, routes and methods ----------------------------------------------------------------


@HOSTILE
@given(task_id=bad_ids)
def test_bad_task_ids_are_400_naming_the_id_or_an_unknown_route(world: None, task_id: str) -> None:
    """Property: GET /tasks/{taskId} with an id that is not one (10,000 characters, control
    characters, lone surrogates, near misses) is a 400 naming `taskId`; an id that makes the
    path another path (a slash, nothing) is a JSON 404."""
    sent = event(
        "GET",
        f"/tasks/{task_id}",
        resource="/tasks/{taskId}",
        path_parameters={"taskId": task_id},
    )
    answered = refused(task_api.handler, sent)
    assert answered.get("field") in {"taskId", None}, answered
    assert answered["error"] in {"InvalidRequest", "NotFound"}, answered


@HOSTILE
@given(booking_id=bad_ids)
def test_bad_booking_ids_are_400_naming_the_id_or_an_unknown_route(
    world: None, booking_id: str
) -> None:
    """Property: GET /bookings/{bookingId} with an id that is not a UUID4 is a 400 naming
    `bookingId` (or a JSON 404 when the id changes the path)."""
    sent = event(
        "GET",
        f"/bookings/{booking_id}",
        resource="/bookings/{bookingId}",
        path_parameters={"bookingId": booking_id},
    )
    answered = refused(saga_api.handler, sent)
    assert answered.get("field") in {"bookingId", None}, answered
    assert answered["error"] in {"InvalidRequest", "NotFound"}, answered


@HOSTILE
@given(
    method=methods,
    route=st.sampled_from([("task", *route) for route in TASK_ROUTES])
    | st.sampled_from([("booking", *route) for route in BOOKING_ROUTES]),
    body=st.one_of(st.none(), st.just("{}"), hostile_task_bodies),
)
def test_unexpected_methods_are_json_404_or_405(
    world: None, method: str, route: tuple[str, str, str], body: str | None
) -> None:
    """Property: a method a route does not serve (any other verb, lower case, made up, empty,
    10,000 characters) is a JSON 404 or 405 naming no internal error, on every route."""
    api, route_method, path = route
    if method == route_method:
        return  # the route's own method: the other tests' subject
    handler = task_api.handler if api == "task" else saga_api.handler
    answered = refused(handler, event(method, path, body))
    assert answered["error"] in {"NotFound", "MethodNotAllowed"}, answered


@HOSTILE
@given(
    path=st.one_of(
        st.sampled_from(["/", "", "/tasks/", "/tasks/a/b", "/v1/tasks", "/health/a/b", "//"]),
        st.sampled_from(["/bookings/", "/bookings/a/b", "/TASKS", "/tasks%2F" + UUID4]),
        st.text(max_size=60).map(lambda text: "/" + quote(text, safe="/")),
        st.just("/" + "p" * 10_000),
    ),
    method=st.sampled_from(["GET", "POST"]),
)
def test_unknown_routes_are_json_404(world: None, path: str, method: str) -> None:
    """Property: a path no route serves is a JSON 404 on both APIs."""
    for handler, known in ((task_api.handler, TASK_ROUTES), (saga_api.handler, BOOKING_ROUTES)):
        sent = event(method, path, "{}")
        status, body = answer(handler, sent)
        assert status < 500, body
        if not any(path.rstrip("/") == route_path.split("/{")[0] for _, route_path in known):
            assert_json_refusal(status, body)


# --- Health routes and the request context ------------------------------------------------------


@FEW
@given(
    path=st.sampled_from(["/health", "/health/probe-secret", "/health/" + "s" * 10_000]),
    content_type=content_types,
    body=st.one_of(st.none(), deep_json, st.just("x" * 20_000)),
)
def test_health_routes_ignore_hostile_requests(
    world: None, path: str, content_type: str | None, body: str | None
) -> None:
    """Property: GET /health and the probe route answer their health (200: moto is up) whatever body,
    content type or probe segment comes with the request; no traceback is logged."""
    status, answered = answer(
        task_api.handler, event("GET", path, body, headers={"Content-Type": content_type})
    )
    assert status == 200, answered


@HOSTILE
@given(
    missing=st.sets(st.sampled_from(OPTIONAL_CONTEXT_FIELDS), min_size=1),
    body=hostile_task_bodies,
)
def test_missing_request_context_pieces_change_nothing(
    world: None, missing: set[str], body: str
) -> None:
    """Property: an event whose requestContext lacks the request id, the path, the stage, the
    domain name, the resource path or the API id is answered like any other: a hostile body
    is a 400 naming a field on both APIs."""
    for handler, path in ((task_api.handler, "/tasks"), (saga_api.handler, "/bookings")):
        sent = event("POST", path, body)
        for name in missing:
            sent["requestContext"].pop(name, None)
        refused(handler, sent)


@FEW
@given(body=st.one_of(st.none(), hostile_task_bodies))
def test_a_request_without_identity_or_context_is_a_json_4xx(world: None, body: str | None) -> None:
    """Property: a request with no caller identity, or no requestContext at all, is a JSON 4xx
    on both APIs, never a 500."""
    for handler, path in ((task_api.handler, "/tasks"), (saga_api.handler, "/bookings")):
        for strip in ("identity", "requestContext"):
            sent = event("POST", path, body)
            if strip == "identity":
                sent["requestContext"]["identity"] = None
            else:
                del sent["requestContext"]
            refused(handler, sent)


@FEW
@given(
    part=st.sampled_from(
        [
            "headers",
            "multiValueHeaders",
            "queryStringParameters",
            "pathParameters",
            "requestContext",
        ]
    ),
    value=st.one_of(
        st.lists(st.text(max_size=5), max_size=3), st.text(max_size=10), st.integers()
    ),
    route=st.sampled_from([("POST", "/tasks"), ("GET", "/health"), ("POST", "/bookings")]),
)
def test_event_parts_of_the_wrong_shape_are_400_naming_the_part(
    world: None, part: str, value: object, route: tuple[str, str]
) -> None:
    """API Gateway always sends these parts as objects or null; a hand-made event with a list
    or a string there is refused up front, naming the part, instead of a 500 from the router."""
    method, path = route
    sent = event(method, path, json.dumps({"operation": "sum", "parameters": {"numbers": [1]}}))
    sent[part] = value
    handler = saga_api.handler if path == "/bookings" else task_api.handler
    body = refused(handler, sent)
    assert body["field"] == part, body
