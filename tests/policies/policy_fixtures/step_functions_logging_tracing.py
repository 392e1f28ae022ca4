"""step-functions-logging-tracing: state machines log at ALL with execution data in their region,
and trace."""

from __future__ import annotations

from typing import Any

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder, concat
from .cases import Case, Expect
from .realistic import active_active_stack
from .sagas_streams import saga, stream_consumer, with_sagas_and_streams

POLICY = "step-functions-logging-tracing"
EU_MACHINE = "tasks-eu-west-1-saga-state-machine"


def build(**eu_inputs: Any) -> StackBuilder:
    b = active_active_stack()
    saga(b, "us-east-1")
    saga(b, "eu-west-1", machine_inputs=eu_inputs)
    for region in ("us-east-1", "eu-west-1"):
        stream_consumer(b, region)
    return b


def quiet() -> StackBuilder:
    b = build(tracingConfiguration={"enabled": False})
    logging = b.named(EU_MACHINE).inputs["loggingConfiguration"]
    logging["level"] = "ERROR"
    logging["includeExecutionData"] = False
    return b


def logging_elsewhere() -> StackBuilder:
    b = with_sagas_and_streams()
    us_logs = b.named("tasks-us-east-1-saga-logs")
    b.named(EU_MACHINE).inputs["loggingConfiguration"]["logDestination"] = concat(
        us_logs.out("arn"), ":*"
    )
    return b


QUIET = Expect(
    EU_MACHINE,
    (
        "its logging level is 'ERROR', not ALL",
        "its logs leave out the execution data",
        "X-Ray tracing is off",
    ),
)
UNLOGGED = Expect(EU_MACHINE, ("it has no loggingConfiguration", "X-Ray tracing is off"))

CASES = {
    "pass": Case(with_sagas_and_streams),
    "fail": Case(quiet, (QUIET,)),
    "preview": Case(quiet, (QUIET,), preview=True),
    "fail-unlogged": Case(
        lambda: build(loggingConfiguration=None, tracingConfiguration=None), (UNLOGGED,)
    ),
    # The planned state shows the unset configuration as computed; the checked inputs say it
    # was never set.
    "engine-preview-unlogged": Case(
        lambda: build(loggingConfiguration=None, tracingConfiguration=None),
        (UNLOGGED,),
        engine_shape=ENGINE_PREVIEW,
    ),
    "fail-log-group-in-another-region": Case(
        logging_elsewhere,
        (Expect(EU_MACHINE, ("log group 'tasks-us-east-1-saga-logs' is in us-east-1",)),),
        preview=True,
    ),
    "pass-error-level-allowed": Case(
        quiet,
        config={
            "logLevels": ["ALL", "ERROR"],
            "requireExecutionData": False,
            "requireTracing": False,
        },
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
