"""single-region-service: a stack that serves from one region is told what active-active needs;
a multi-region stack, or one with no API, hears nothing."""

from __future__ import annotations

from .apis import api_function, http_api
from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, STACK_TYPE, StackBuilder
from .cases import Case, Expect
from .realistic import SERVICE, TAGS, active_active_stack

POLICY = "single-region-service"
US_API = "tasks-us-east-1-api-api"


def single_region() -> StackBuilder:
    return active_active_stack(("us-east-1",))


def http_api_only() -> StackBuilder:
    """A service behind an HTTP API only, in one region: HTTP APIs serve like REST ones."""
    b = StackBuilder()
    root = b.component(STACK_TYPE, "resilient-serverless-test")
    b.component("resilient-serverless:index:ActiveActiveService", SERVICE, root)
    reports = api_function(b, "tasks-eu-west-1-reports", "eu-west-1", 10)
    http_api(b, "tasks-eu-west-1-reports-http", "eu-west-1", reports)
    return b


def without_api() -> StackBuilder:
    """A worker-only stack: nothing serves, nothing to say."""
    b = StackBuilder()
    root = b.component(STACK_TYPE, "resilient-serverless-test")
    b.add(
        "aws:sqs/queue:Queue",
        "jobs-queue",
        {"region": "us-east-1", "sqsManagedSseEnabled": True, "tags": TAGS},
        parent=root,
    )
    return b


def exempt_by_tag() -> StackBuilder:
    b = single_region()
    b.named(US_API).inputs["tags"] = {
        **TAGS,
        "resilience:exempt:single-region-service": "regional product by design",
    }
    return b


ONE_REGION = Expect(
    US_API,
    (
        "The stack serves its API only from region us-east-1",
        "multi-region-active-active",
        "Active-active would need: the API ('tasks-us-east-1-api-api') and its stage in a "
        "second region",
        "a replica of table(s) 'tasks-tasks-table'",
        "one latency-routed Route53 record per region",
        "'resilience:exempt:single-region-service': '<the reason>'",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(single_region, (ONE_REGION,)),
    "preview": Case(single_region, (ONE_REGION,), preview=True),
    "fail-http-api-only": Case(
        http_api_only,
        (
            Expect(
                "tasks-eu-west-1-reports-http-api",
                (
                    "serves its API only from region eu-west-1",
                    "the 1 Lambda function(s) behind it",
                ),
            ),
        ),
        preview=True,
    ),
    "pass-no-api": Case(without_api, preview=True),
    "exempt-by-tag": Case(
        exempt_by_tag,
        (
            Expect(
                US_API,
                ("Exempt (regional product by design): The stack serves its API only from",),
                level="advisory",
            ),
        ),
        preview=True,
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
