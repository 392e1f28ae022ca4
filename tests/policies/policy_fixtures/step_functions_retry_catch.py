"""step-functions-retry-catch: every Task state retries and catches; decided at preview when the
definition is known, at `pulumi up` when it is built from another resource's ARN."""

from __future__ import annotations

import copy
from typing import Any

from resilient_serverless.saga_definition import saga_definition

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack
from .sagas_streams import saga, stream_consumer, with_sagas_and_streams

POLICY = "step-functions-retry-catch"
US_MACHINE = "tasks-us-east-1-saga-state-machine"
EU_MACHINE = "tasks-eu-west-1-saga-state-machine"


def careless(table_name: Any) -> dict[str, Any]:
    """The saga with two holes: BookFlight catches nothing, CancelHotel never retries."""
    definition = copy.deepcopy(saga_definition(table_name))
    del definition["States"]["BookFlight"]["Catch"]
    for retrier in definition["States"]["CancelHotel"]["Retry"]:
        retrier["MaxAttempts"] = 0
    return definition


def narrow_catch(table_name: Any) -> dict[str, Any]:
    """BookCar catches only the definite failure: a throttle after the retries escapes."""
    definition = copy.deepcopy(saga_definition(table_name))
    definition["States"]["BookCar"]["Catch"] = definition["States"]["BookCar"]["Catch"][:1]
    return definition


def build(us_definition: Any = None, *, table_name: str | None = None) -> StackBuilder:
    b = active_active_stack()
    for region in ("us-east-1", "eu-west-1"):
        if region == "us-east-1" and us_definition is not None:
            saga(b, region, definition=us_definition, table_name=table_name)
        else:
            saga(b, region)
        stream_consumer(b, region)
    return b


def with_lambda_step() -> StackBuilder:
    """The eu-west-1 saga ends with a notification through a function, whose ARN the definition
    embeds: unknown at preview. That task retries but catches nothing."""
    b = active_active_stack()
    fn = b.named("tasks-eu-west-1-api-fn")

    def notify(table_name: Any) -> dict[str, Any]:
        definition = saga_definition(table_name)
        definition["States"]["Booked"] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": fn.out("arn"), "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 3}],
            "End": True,
        }
        return definition

    saga(b, "us-east-1")
    saga(b, "eu-west-1", definition=notify)
    for region in ("us-east-1", "eu-west-1"):
        stream_consumer(b, region)
    return b


def in_a_parallel_branch() -> StackBuilder:
    def parallel(table_name: Any) -> dict[str, Any]:
        inner = saga_definition(table_name)
        return {
            "StartAt": "Fanout",
            "States": {
                "Fanout": {
                    "Type": "Parallel",
                    "Branches": [
                        {
                            "StartAt": "Audit",
                            "States": {
                                "Audit": {
                                    "Type": "Task",
                                    "Resource": "arn:aws:states:::dynamodb:putItem",
                                    "Parameters": {"TableName": table_name, "Item": {}},
                                    "End": True,
                                }
                            },
                        },
                        inner,
                    ],
                    "Retry": [{"ErrorEquals": ["States.ALL"]}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                    "End": True,
                },
                "Failed": {"Type": "Fail"},
            },
        }

    return build(parallel)


CARELESS = Expect(
    US_MACHINE,
    (
        "Task state 'BookFlight' has no Catch",
        "Task state 'CancelHotel' has a Retry that never retries",
        "without running the compensations",
    ),
)
LAMBDA_STEP = Expect(EU_MACHINE, ("Task state 'Booked' has no Catch",))

CASES = {
    "pass": Case(with_sagas_and_streams),
    "fail": Case(lambda: build(careless), (CARELESS,)),
    # A definition over an explicitly named table is known even in the builder's preview shape.
    "preview": Case(lambda: build(careless, table_name="bookings-us"), (CARELESS,), preview=True),
    # Over an autonamed table the builder's preview cannot know the name: nothing to decide.
    "preview-autonamed-deferred": Case(lambda: build(careless), (), preview=True),
    "fail-catch-all": Case(
        lambda: build(narrow_catch),
        (Expect(US_MACHINE, ("Task state 'BookCar' has no Catch for States.ALL",)),),
    ),
    "pass-catch-all-not-required": Case(
        lambda: build(narrow_catch), config={"requireCatchAll": False}
    ),
    "fail-parallel-branch": Case(
        in_a_parallel_branch,
        (Expect(US_MACHINE, ("Task state 'Fanout.Branches[0].Audit' has no Retry and no Catch",)),),
    ),
    # Built from a function's ARN: unknown at preview in every shape, decided at `pulumi up`.
    "preview-arn-deferred": Case(with_lambda_step, (), preview=True),
    "engine-preview-arn-deferred": Case(with_lambda_step, (), engine_shape=ENGINE_PREVIEW),
    "fail-arn-at-up": Case(with_lambda_step, (LAMBDA_STEP,)),
    "outputs-only-arn": Case(with_lambda_step, (LAMBDA_STEP,), engine_shape=OUTPUTS_ONLY),
}

# The same stacks as the engine sends them: a new stack's preview (the provider names the table
# in Check, so the definition is known), and outputs only.
CASES["engine-preview"] = CASES["fail"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
