"""multi-region-active-active: a stack that serves from two or more regions (REST or HTTP APIs
alike) has every regional piece in each; a single-region stack is not its premise."""

from __future__ import annotations

from .apis import api_function, http_api
from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack
from .retiring_region import retired

POLICY = "multi-region-active-active"


def single_region() -> StackBuilder:
    return active_active_stack(("us-east-1",))


def queue_region_forgotten() -> StackBuilder:
    """The eu-west-1 work queue and its redrive were declared without `region=`: they land in the
    provider's default region, and eu-west-1 has no queue with a DLQ."""
    b = active_active_stack()
    del b.named("tasks-eu-west-1-worker-queue").inputs["region"]
    del b.named("tasks-eu-west-1-worker-redrive").inputs["region"]
    return b


def latency_record_missing() -> StackBuilder:
    b = active_active_stack()
    b.remove(b.named("tasks-routing-eu-west-1-latency"))
    return b


def without_latency_routing() -> StackBuilder:
    b = active_active_stack()
    for region in ("us-east-1", "eu-west-1"):
        b.remove(b.named(f"tasks-routing-{region}-latency"))
    return b


def without_any_dead_letter_queue() -> StackBuilder:
    """No region has a DLQ: symmetric, so sqs-dead-letter-queue's finding, not this rule's."""
    b = active_active_stack()
    for region in ("us-east-1", "eu-west-1"):
        b.remove(b.named(f"tasks-{region}-worker-redrive"))
    return b


def http_api_second_region() -> StackBuilder:
    """REST in us-east-1, an HTTP API (and nothing else) in eu-west-1: two serving regions, and
    eu-west-1 lacks what us-east-1 has."""
    b = active_active_stack(("us-east-1",))
    http_api(b, "tasks-eu-west-1-reports-http", "eu-west-1", b.named("tasks-us-east-1-api-fn"))
    return b


def http_api_regions() -> StackBuilder:
    """The compliant service, plus an HTTP API in each of its regions: still complete."""
    b = active_active_stack()
    for region in ("us-east-1", "eu-west-1"):
        reports = api_function(b, f"tasks-{region}-reports", region, 10)
        http_api(b, f"tasks-{region}-reports-http", region, reports)
    return b


REGION_FORGOTTEN = Expect(
    "tasks-eu-west-1-api-api",
    (
        "Region eu-west-1 serves an API ('tasks-eu-west-1-api-api')",
        "no SQS queue with a dead-letter queue (us-east-1 has one)",
        "lands in the provider's default region",
    ),
)
BELOW_MINIMUM = Expect(
    "", ("serves its API from 2 region(s) (eu-west-1, us-east-1)", "at least 3 (minRegions)")
)

CASES = {
    "pass": Case(active_active_stack),
    # A single-region stack is outside the premise: single-region-service advises instead.
    "pass-single-region": Case(single_region),
    "pass-single-region-preview": Case(single_region, preview=True),
    "fail": Case(queue_region_forgotten, (REGION_FORGOTTEN,)),
    "preview": Case(active_active_stack, (BELOW_MINIMUM,), preview=True, config={"minRegions": 3}),
    "fail-http-api-second-region": Case(
        http_api_second_region,
        (
            Expect(
                "tasks-eu-west-1-reports-http-api",
                (
                    "Region eu-west-1 serves an API ('tasks-eu-west-1-reports-http-api')",
                    "no Lambda function (us-east-1 has one)",
                    "no latency-routed Route53 record (us-east-1 has one)",
                ),
            ),
        ),
        preview=True,
    ),
    "pass-http-api-in-every-region": Case(http_api_regions, preview=True),
    "fail-region-forgotten": Case(
        queue_region_forgotten,
        (
            Expect(
                "tasks-eu-west-1-api-api",
                (
                    "Region eu-west-1 serves an API ('tasks-eu-west-1-api-api')",
                    "no SQS queue with a dead-letter queue (us-east-1 has one)",
                    "lands in the provider's default region",
                ),
            ),
        ),
        preview=True,
    ),
    "fail-latency-record": Case(
        latency_record_missing,
        (
            Expect(
                "tasks-eu-west-1-api-api",
                ("no latency-routed Route53 record (us-east-1 has one)",),
            ),
        ),
        preview=True,
    ),
    "fail-no-latency-routing": Case(
        without_latency_routing,
        (Expect("", ("serves its API from eu-west-1, us-east-1 but no latency-routed",)),),
        preview=True,
    ),
    "pass-no-region-has-a-dlq": Case(without_any_dead_letter_queue, preview=True),
    "pass-configured-minimum": Case(single_region, config={"minRegions": 1}),
    # A retiring region (its APIs tagged resilience:retiring) no longer serves: it has no latency
    # record on purpose, and the two regions that serve are complete.
    "pass-retiring-region": Case(retired),
    "pass-retiring-region-preview": Case(retired, preview=True),
    "pass-retiring-region-engine-preview": Case(retired, engine_shape=ENGINE_PREVIEW),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
