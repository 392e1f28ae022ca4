"""route53-latency-health-check: latency records have a deep, fast health check and evaluate
their alias target's health; CNAME latency records count their own TTL."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "route53-latency-health-check"
EU_RECORD = "tasks-routing-eu-west-1-latency"
US_RECORD = "tasks-routing-us-east-1-latency"


def without_health_check() -> StackBuilder:
    b = active_active_stack()
    del b.named(EU_RECORD).inputs["healthCheckId"]
    return b


def alias_not_evaluated() -> StackBuilder:
    b = active_active_stack()
    b.named(EU_RECORD).inputs["aliases"][0]["evaluateTargetHealth"] = False
    return b


def cname_records(ttl: int = 30, interval: int = 10) -> StackBuilder:
    """Latency CNAMEs to each region's API domain, as `dnsRecordType: cname` builds them."""
    b = active_active_stack()
    for region in ("us-east-1", "eu-west-1"):
        record = b.named(f"tasks-routing-{region}-latency").inputs
        alias = record.pop("aliases")[0]
        record.update({"type": "CNAME", "ttl": ttl, "records": [alias["name"]]})
        b.named(f"tasks-routing-{region}-health").inputs["requestInterval"] = interval
    return b


def long_cname_ttl() -> StackBuilder:
    return cname_records(ttl=300)


def shallow_check() -> StackBuilder:
    b = active_active_stack()
    del b.named("tasks-routing-us-east-1-health").inputs["resourcePath"]
    return b


NO_CHECK = Expect(
    EU_RECORD,
    (
        "Latency record 'tasks-routing-eu-west-1-latency'",
        "it has no healthCheckId",
        "health_check_id=",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(without_health_check, (NO_CHECK,)),
    "preview": Case(without_health_check, (NO_CHECK,), preview=True),
    "fail-alias": Case(
        alias_not_evaluated,
        (Expect(EU_RECORD, ("its alias does not set evaluateTargetHealth: true",)),),
        preview=True,
    ),
    # A health-checked CNAME has no alias to evaluate: it passes, 10 s x 3 + 30 s = 60 s.
    "pass-cname": Case(cname_records, config={"maxFailoverSeconds": 60}),
    "pass-cname-preview": Case(cname_records, preview=True, config={"maxFailoverSeconds": 60}),
    # Its own TTL counts, not the alias's 60 s.
    "fail-cname-ttl": Case(
        long_cname_ttl,
        (
            Expect(
                US_RECORD, ("needs up to 330 s", "(10 s x 3 failures + 300 s TTL), above 150 s")
            ),
            Expect(EU_RECORD, ("needs up to 330 s",)),
        ),
        preview=True,
    ),
    "fail-shallow-check": Case(
        shallow_check,
        (Expect(US_RECORD, ("probes '/', not the region's deep health route",)),),
        preview=True,
    ),
    "fail-configured-failover": Case(
        active_active_stack,
        (
            Expect(US_RECORD, ("needs up to 150 s", "(30 s x 3 failures + 60 s TTL), above 100 s")),
            Expect(EU_RECORD, ("needs up to 150 s",)),
        ),
        preview=True,
        config={"maxFailoverSeconds": 100},
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
CASES["engine-preview-cname"] = CASES["pass-cname"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only-cname-ttl"] = CASES["fail-cname-ttl"].reshaped(OUTPUTS_ONLY)
