"""sqs-consumer-max-concurrency: SQS mappings cap their consumer's concurrency."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "sqs-consumer-max-concurrency"
US_MAPPING = "tasks-us-east-1-worker-mapping"


def uncapped() -> StackBuilder:
    b = active_active_stack()
    del b.named(US_MAPPING).inputs["scalingConfig"]
    return b


UNCAPPED = Expect(
    US_MAPPING,
    ("scalingConfig.maximumConcurrency is not set", "scaling_config={'maximum_concurrency': 10}"),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(uncapped, (UNCAPPED,)),
    "preview": Case(uncapped, (UNCAPPED,), preview=True),
    "fail-configured-limit": Case(
        active_active_stack,
        (
            Expect(US_MAPPING, ("maximumConcurrency is 10, above 5", "'maximum_concurrency': 5")),
            Expect("tasks-eu-west-1-worker-mapping", ("above 5",)),
        ),
        config={"maximumConcurrencyLimit": 5, "remediationMaximumConcurrency": 5},
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
