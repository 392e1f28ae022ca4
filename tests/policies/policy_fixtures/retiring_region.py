"""retiring-region: a region whose APIs carry the retiring tag has no latency record, no table
or replica with deletion protection and no protected resource."""

from __future__ import annotations

from resilience_policies import thresholds

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import SERVICE, TAGS, active_active_stack

POLICY = "retiring-region"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
LEAVING = "eu-west-1"
TABLE = f"{SERVICE}-tasks-table"
SAGA_TABLE = f"{SERVICE}-{LEAVING}-saga-table"
RECORD = f"{SERVICE}-routing-{LEAVING}-latency"


def retired(*, keep_dns: bool = False, protected_copies: bool = False) -> StackBuilder:
    """Three regions, eu-west-1 retiring as the components retire it: every taggable resource
    there tagged, its latency record and health check gone, its saga table and its replica of
    the global table unprotected (unless the case says otherwise)."""
    b = active_active_stack(REGIONS)
    service = b.named(SERVICE)
    b.add(
        "aws:dynamodb/table:Table",
        SAGA_TABLE,
        {
            "region": LEAVING,
            "billingMode": "PAY_PER_REQUEST",
            "hashKey": "pk",
            "attributes": [{"name": "pk", "type": "S"}],
            "pointInTimeRecovery": {"enabled": True},
            "serverSideEncryption": {"enabled": True},
            "deletionProtectionEnabled": protected_copies,
            "tags": {**TAGS, "resilience:single-region": "true"},
        },
        parent=service,
    )
    for resource in b.resources:
        if resource.region == LEAVING and isinstance(resource.inputs.get("tags"), dict):
            resource.inputs["tags"] = {**resource.inputs["tags"], thresholds.RETIRING_TAG_KEY: "true"}
    for replica in b.named(TABLE).inputs["replicas"]:
        if replica["regionName"] == LEAVING:
            replica["deletionProtectionEnabled"] = protected_copies
    if not keep_dns:
        b.remove(b.named(RECORD))
        b.remove(b.named(f"{SERVICE}-routing-{LEAVING}-health"))
    return b


def still_routed_and_protected() -> StackBuilder:
    return retired(keep_dns=True, protected_copies=True)


def with_protected_queue() -> StackBuilder:
    b = retired()
    b.named(f"{SERVICE}-{LEAVING}-worker-dlq").protect = True
    return b


def serving_region_may_be_protected() -> StackBuilder:
    """`protect` and deletion protection in a region that still serves are not this rule's."""
    b = retired()
    b.named(f"{SERVICE}-us-east-1-worker-dlq").protect = True
    return b


STILL_ROUTED = Expect(
    RECORD,
    (
        f"Latency record '{RECORD}' still sends clients to region {LEAVING}, which is retiring",
        "DNS must let go of a region before anything of it is deleted",
    ),
)
PROTECTED_SAGA = Expect(
    SAGA_TABLE,
    (f"Table '{SAGA_TABLE}' in retiring region {LEAVING} keeps deletion protection on",),
)
PROTECTED_REPLICA = Expect(
    TABLE,
    (f"The {LEAVING} replica of table '{TABLE}' in retiring region {LEAVING} keeps deletion",),
)

CASES = {
    "pass": Case(retired),
    "pass-preview": Case(retired, preview=True),
    "pass-protect-elsewhere": Case(serving_region_may_be_protected),
    "fail": Case(still_routed_and_protected, (STILL_ROUTED, PROTECTED_REPLICA, PROTECTED_SAGA)),
    "preview": Case(
        still_routed_and_protected,
        (STILL_ROUTED, PROTECTED_REPLICA, PROTECTED_SAGA),
        preview=True,
    ),
    "fail-protect": Case(
        with_protected_queue,
        (
            Expect(
                f"{SERVICE}-{LEAVING}-worker-dlq",
                ("in retiring region eu-west-1 is protected (`protect`)",),
            ),
        ),
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
CASES["engine-preview-protect"] = CASES["fail-protect"].reshaped(ENGINE_PREVIEW)
