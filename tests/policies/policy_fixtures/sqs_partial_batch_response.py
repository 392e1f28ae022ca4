"""sqs-partial-batch-response: SQS and stream mappings report batch item failures."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect, stream_consumer
from .realistic import TAGS, active_active_stack

POLICY = "sqs-partial-batch-response"
US_MAPPING = "tasks-us-east-1-worker-mapping"


def without_report() -> StackBuilder:
    b = active_active_stack()
    del b.named(US_MAPPING).inputs["functionResponseTypes"]
    return b


def kinesis_without_report() -> StackBuilder:
    b = active_active_stack()
    stream = b.add(
        "aws:kinesis/stream:Stream",
        "tasks-us-east-1-events",
        {"region": "us-east-1", "shardCount": 1, "encryptionType": "KMS", "tags": TAGS},
        parent=b.named("tasks"),
    )
    mapping = stream_consumer(b, "us-east-1", stream, {})
    del mapping.inputs["functionResponseTypes"]
    return b


def kafka_without_report() -> StackBuilder:
    b = active_active_stack()
    mapping = stream_consumer(b, "us-east-1", b.named("tasks-tasks-table"), {})
    mapping.inputs.pop("eventSourceArn")
    mapping.inputs.pop("functionResponseTypes")
    mapping.inputs.update(
        selfManagedEventSource={"endpoints": {"KAFKA_BOOTSTRAP_SERVERS": "broker:9092"}},
        topics=["tasks"],
    )
    return b


def one_at_a_time() -> StackBuilder:
    """batch_size=1: the record is the batch, failing it retries exactly it."""
    b = without_report()
    b.named(US_MAPPING).inputs["batchSize"] = 1
    return b


def default_batch_size() -> StackBuilder:
    """batch_size left unset: AWS's default, 10 for SQS."""
    b = without_report()
    del b.named(US_MAPPING).inputs["batchSize"]
    return b


def without_report_tagged() -> StackBuilder:
    """A resource policy reads the exemption tag from the resource's own inputs (Analyze)."""
    b = without_report()
    b.named(US_MAPPING).inputs["tags"] = {
        **TAGS,
        "resilience:exempt:sqs-partial-batch-response": "batch size 1: one message per batch",
    }
    return b


#: Config names a resource by its full URN (or its logical name).
US_MAPPING_URN = active_active_stack().named(US_MAPPING).urn

SQS_MISSING = Expect(
    US_MAPPING,
    (
        "(SQS queue) does not set functionResponseTypes ['ReportBatchItemFailures']",
        "function_response_types=['ReportBatchItemFailures']",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(without_report, (SQS_MISSING,)),
    # eventSourceArn is unknown: the mapping's own shape says it reads SQS.
    "preview": Case(without_report, (SQS_MISSING,), preview=True),
    "fail-kinesis": Case(
        kinesis_without_report,
        (Expect("tasks-us-east-1-audit-mapping", ("(Kinesis stream) does not set",)),),
    ),
    "preview-kinesis": Case(
        kinesis_without_report,
        (Expect("tasks-us-east-1-audit-mapping", ("(Kinesis or DynamoDB stream) does not set",)),),
        preview=True,
    ),
    "pass-kafka-not-applicable": Case(kafka_without_report, preview=True),
    "pass-batch-of-one": Case(one_at_a_time),
    "pass-batch-of-one-preview": Case(one_at_a_time, preview=True),
    "fail-default-batch-size": Case(
        default_batch_size,
        (Expect(US_MAPPING, ("reads batches of up to 10 records (AWS's default)",)),),
    ),
    "preview-default-batch-size": Case(
        default_batch_size,
        (Expect(US_MAPPING, ("reads batches of up to 10 records (AWS's default)",)),),
        preview=True,
    ),
    "exempt-by-tag": Case(
        without_report_tagged,
        (
            Expect(
                US_MAPPING,
                (
                    "Exempt (batch size 1: one message per batch): ",
                    "does not set functionResponseTypes",
                ),
                level="advisory",
            ),
        ),
        preview=True,
    ),
    "exempt-by-config": Case(
        without_report,
        (
            Expect(
                US_MAPPING,
                ("Exempt (idempotent consumer): ", "does not set functionResponseTypes"),
                level="advisory",
            ),
        ),
        config={"exemptions": [{"urn": US_MAPPING_URN, "reason": "idempotent consumer"}]},
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
CASES["engine-preview-batch-of-one"] = CASES["pass-batch-of-one"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only-batch-of-one"] = CASES["pass-batch-of-one"].reshaped(OUTPUTS_ONLY)
