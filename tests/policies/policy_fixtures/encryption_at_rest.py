"""encryption-at-rest: queues, tables and streams enable server-side encryption explicitly."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "encryption-at-rest"
EU_DLQ = "tasks-eu-west-1-worker-dlq"


def unencrypted_dlq() -> StackBuilder:
    b = active_active_stack()
    del b.named(EU_DLQ).inputs["sqsManagedSseEnabled"]
    return b


def explicitly_unencrypted_dlq() -> StackBuilder:
    b = active_active_stack()
    b.named(EU_DLQ).inputs["sqsManagedSseEnabled"] = False
    return b


def unencrypted_table() -> StackBuilder:
    b = active_active_stack()
    del b.named("tasks-tasks-table").inputs["serverSideEncryption"]
    return b


def kms_queue() -> StackBuilder:
    b = unencrypted_dlq()
    b.named(EU_DLQ).inputs["kmsMasterKeyId"] = "alias/aws/sqs"
    return b


PLAIN_DLQ = Expect(EU_DLQ, ("sets neither sqsManagedSseEnabled nor kmsMasterKeyId",))

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(unencrypted_dlq, (PLAIN_DLQ,)),
    "preview": Case(unencrypted_dlq, (PLAIN_DLQ,), preview=True),
    "fail-table": Case(
        unencrypted_table,
        (Expect("tasks-tasks-table", ("does not enable serverSideEncryption",)),),
        preview=True,
    ),
    "pass-kms-key": Case(kms_queue),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = Case(explicitly_unencrypted_dlq, (PLAIN_DLQ,), engine_shape=OUTPUTS_ONLY)

#: Shapes where the plain `fail` case rightly passes. AWS turns SSE-SQS on for every new queue,
#: so a deployed queue's state says sqsManagedSseEnabled: true although the program never set
#: it: encrypted, nothing to report. Turning it off explicitly fails in every shape.
SHAPE_DEPENDENT_FAIL = {OUTPUTS_ONLY: "AWS enables SSE-SQS by default on new queues"}
