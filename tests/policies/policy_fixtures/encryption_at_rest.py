"""encryption-at-rest: queues, tables and streams enable server-side encryption explicitly."""

from __future__ import annotations

from .builder import StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "encryption-at-rest"
EU_DLQ = "tasks-eu-west-1-worker-dlq"


def unencrypted_dlq() -> StackBuilder:
    b = active_active_stack()
    del b.named(EU_DLQ).inputs["sqsManagedSseEnabled"]
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
