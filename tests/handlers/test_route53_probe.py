"""GET /health/<secret>: Route53's probe route answers as the public /health does.

API Gateway declares the secret segment as a literal resource (not a path parameter), so the
event names it as both `resource` and `path`, with no path parameters."""

from __future__ import annotations

from handler_test_support import FakeLambdaContext, MotoResources, api_event, call_api

import task_api

PROBE_PATH = "/health/Q7rZk2Lw9XbT4mNc8VhJ3pYd6sFa1GeU0oRiKtEn"


def test_probe_route_runs_the_deep_check(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    answer = call_api(task_api.handler, lambda_context, api_event("GET", PROBE_PATH))

    assert answer.status_code == 200
    assert answer.body["status"] == "ok"
    assert answer.body["region"] == "eu-west-1"
    assert answer.body["dependencies"] == {"table": "up", "queue": "up"}
    assert aws.items() == []


def test_probe_route_fails_when_a_dependency_does(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    aws.dynamodb.delete_table(TableName=aws.table_name)

    answer = call_api(task_api.handler, lambda_context, api_event("GET", PROBE_PATH))

    # What Route53 counts as a failure (outside 200..399): the region leaves DNS.
    assert answer.status_code == 503
    assert answer.body["dependencies"] == {"table": "down", "queue": "up"}


def test_only_one_segment_below_health_is_the_probe(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    deeper = api_event("GET", f"{PROBE_PATH}/more")

    assert call_api(task_api.handler, lambda_context, deeper).status_code == 404
