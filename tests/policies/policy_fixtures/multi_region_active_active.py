"""multi-region-active-active: at least two serving regions, each with every regional piece."""

from __future__ import annotations

from .builder import StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

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


ONE_REGION = Expect(
    "", ("serves its API from 1 region(s) (us-east-1)", "active-active needs at least 2")
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(single_region, (ONE_REGION,)),
    "preview": Case(single_region, (ONE_REGION,), preview=True),
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
}
