"""stream-poison-message: stream mappings bisect, bound retries and age, keep what they skip;
never demanded of SQS mappings."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect, audit_queue, stream_consumer
from .realistic import active_active_stack

POLICY = "stream-poison-message"
MAPPING = "tasks-us-east-1-audit-mapping"


def with_stream_consumer(**overrides: object) -> StackBuilder:
    """The service plus a consumer of the table's stream; the SQS worker mappings carry none of
    the stream settings, and must not be asked for them."""
    b = active_active_stack()
    failures = audit_queue(b, "us-east-1")
    settings: dict[str, object] = {
        "bisectBatchOnFunctionError": True,
        "maximumRetryAttempts": 3,
        "maximumRecordAgeInSeconds": 3600,
        "destinationConfig": {"onFailure": {"destinationArn": failures.out("arn")}},
    }
    for key, value in overrides.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    stream_consumer(b, "us-east-1", b.named("tasks-tasks-table"), settings)
    return b


def bare_stream_consumer() -> StackBuilder:
    return with_stream_consumer(
        bisectBatchOnFunctionError=None,
        maximumRetryAttempts=None,
        maximumRecordAgeInSeconds=None,
        destinationConfig=None,
    )


BARE = Expect(
    MAPPING,
    (
        "reads DynamoDB stream 'tasks-tasks-table'",
        "bisectBatchOnFunctionError is not true",
        "maximumRetryAttempts is not set (infinite",
        "maximumRecordAgeInSeconds is not set (infinite",
        "no destinationConfig.onFailure.destinationArn",
        "block its shard",
    ),
)

CASES = {
    "pass": Case(with_stream_consumer),
    "fail": Case(bare_stream_consumer, (BARE,)),
    # The mapping's eventSourceArn (the table's streamArn) is unknown: linked by dependency,
    # which also tells a DynamoDB stream from an SQS queue.
    "preview": Case(bare_stream_consumer, (BARE,), preview=True),
    "fail-unbounded": Case(
        lambda: with_stream_consumer(maximumRetryAttempts=-1, maximumRecordAgeInSeconds=86_400),
        (
            Expect(
                MAPPING,
                (
                    "maximumRetryAttempts is -1 (infinite",
                    "maximumRecordAgeInSeconds is 86400, above 3600 s",
                ),
            ),
        ),
        preview=True,
    ),
    "pass-configured-bounds": Case(
        lambda: with_stream_consumer(maximumRetryAttempts=10, maximumRecordAgeInSeconds=86_400),
        config={"maxRetryAttempts": 10, "maxRecordAgeSeconds": 86_400},
    ),
    # A numeric retry count is a choice within the configured ceiling: 5 passes by default.
    "pass-five-retries": Case(lambda: with_stream_consumer(maximumRetryAttempts=5)),
    "pass-five-retries-preview": Case(
        lambda: with_stream_consumer(maximumRetryAttempts=5), preview=True
    ),
    "fail-above-configured-ceiling": Case(
        lambda: with_stream_consumer(maximumRetryAttempts=5),
        (Expect(MAPPING, ("maximumRetryAttempts is 5, above 2 (this stack's maxRetryAttempts)",)),),
        config={"maxRetryAttempts": 2},
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
# A deployed mapping reports AWS's values for what the program left unset: -1, "infinite".
CASES["outputs-only"] = Case(
    bare_stream_consumer,
    (
        Expect(
            MAPPING,
            (
                "bisectBatchOnFunctionError is not true",
                "maximumRetryAttempts is -1 (infinite",
                "maximumRecordAgeInSeconds is -1 (infinite",
                "no destinationConfig.onFailure.destinationArn",
            ),
        ),
    ),
    engine_shape=OUTPUTS_ONLY,
)
