"""The booking saga as Amazon States Language, built from Python.

A trip is booked in three steps, hotel -> flight -> car, each a direct DynamoDB integration of
Step Functions (no Lambda between the state machine and the table). Every booking step retries
transient errors; when a step finally fails, the bookings made so far are undone by their
compensations in reverse order, and the execution ends in a Fail state whose cause records the
failed step and the steps compensated.

The data model keeps every step idempotent, so a retry never books twice and a compensation can
run any number of times:

- an inventory item per bookable resource (key `pk` = "hotel#<id>", "flight#<id>",
  "car#<id>") holds its `capacity` and the string set `holds` of booking ids holding it;
- booking adds the booking id to `holds` (a set: adding it again changes nothing) on condition
  that the resource exists and has room, or already holds this booking;
- cancelling deletes the booking id from `holds` (deleting an absent member changes nothing).

A failed step is told apart by how it failed:

- `DynamoDB.ConditionalCheckFailedException` (no such resource, or no room) is definite: the
  step wrote nothing, so only the steps before it are compensated;
- anything else left after the retries (a throttle, a 5xx, a timeout) is ambiguous: the write
  may have been applied before the error, so the step itself is compensated too (its
  compensation is idempotent, so undoing a booking that never happened is harmless).

`holds` never grows beyond `capacity` members, so an item stays far below DynamoDB's 400 KB for
any realistic capacity (36-byte ids: about 10 000 holds).

A compensation retries any error but "no such resource" for about an hour (see
`thresholds.SAGA_COMPENSATION_*`): the table may be throttled or failing, or the role being
fixed, and the hold must not outlive the booking. If it still fails, the execution writes a
record of what the booking may still hold to the same table (key
"compensation-failed#<bookingId>", also with UpdateItem, the one action the role has) and ends
in the `CompensationFailed` Fail state, which the Saga component alarms on;
`python -m tools.saga_repair` lists those records and releases the holds.

This module imports nothing but the standard library and the shared thresholds: the tests run
the very same definition in moto's Step Functions interpreter.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from resilience_policies import thresholds

#: The table's partition key (inventory items are "hotel#<id>" and the like).
RESOURCE_KEY: Final[str] = "pk"

#: Errors worth retrying: throttling, capacity and server-side failures of DynamoDB. A
#: ConditionalCheckFailedException is an answer (no room), never retried.
TRANSIENT_ERRORS: Final[tuple[str, ...]] = (
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.TransactionConflictException",
    "DynamoDB.AmazonDynamoDBException",
)
DEFINITE_FAILURE: Final[str] = "DynamoDB.ConditionalCheckFailedException"

#: Names of the terminal states.
SUCCEEDED_STATE: Final[str] = "Booked"
FAILED_STATE: Final[str] = "BookingFailed"
COMPENSATION_FAILED_STATE: Final[str] = "CompensationFailed"
#: The states between a compensation that gave up and COMPENSATION_FAILED_STATE.
RECORD_COMPENSATION_FAILURE_STATE: Final[str] = "RecordCompensationFailure"
COMPENSATION_RECORDED_STATE: Final[str] = "CompensationRecorded"
#: Key prefix of the records of failed compensations in the saga's table (what tools.saga_repair
#: lists); resource keys are "<step name>#<id>", and no step is named "compensation-failed".
FAILED_COMPENSATION_KEY_PREFIX: Final[str] = "compensation-failed#"
#: The Fail states' error names (what DescribeExecution reports as `error`).
BOOKING_FAILED_ERROR: Final[str] = "BookingFailed"
COMPENSATION_FAILED_ERROR: Final[str] = "CompensationFailed"


@dataclass(frozen=True)
class SagaStep:
    """One bookable resource: its name in state names and keys, and its id in the input."""

    name: str  # "hotel"
    """The resource's name in state names and keys, e.g. 'hotel'."""
    input_field: str  # "hotelId"
    """The execution input field with the resource's id, e.g. 'hotelId'."""

    @property
    def title(self) -> str:
        return self.name[:1].upper() + self.name[1:]

    @property
    def book_state(self) -> str:
        return f"Book{self.title}"

    @property
    def cancel_state(self) -> str:
        return f"Cancel{self.title}"

    @property
    def unavailable_state(self) -> str:
        return f"{self.title}Unavailable"

    @property
    def uncertain_state(self) -> str:
        return f"{self.title}Uncertain"

    @property
    def not_released_state(self) -> str:
        return f"{self.title}NotReleased"

    def resource_key(self) -> str:
        """The intrinsic function that gives this step's inventory key from the input."""
        return f"States.Format('{self.name}#{{}}', $.{self.input_field})"


#: The trip, in booking order.
BOOKING_STEPS: Final[tuple[SagaStep, ...]] = (
    SagaStep("hotel", "hotelId"),
    SagaStep("flight", "flightId"),
    SagaStep("car", "carId"),
)


@dataclass(frozen=True)
class RetryPolicy:
    """How each booking step retries transient DynamoDB errors (full jitter); compensations
    retry longer (`compensation_retry`)."""

    interval_s: int = thresholds.SAGA_RETRY_INTERVAL_S
    """Seconds before the first retry."""
    max_attempts: int = thresholds.SAGA_RETRY_MAX_ATTEMPTS
    """Retries per step."""
    backoff_rate: float = thresholds.SAGA_RETRY_BACKOFF_RATE
    """Factor the interval grows by per retry."""
    max_delay_s: int = thresholds.SAGA_RETRY_MAX_DELAY_S
    """Longest wait between retries, in seconds."""

    def retrier(self) -> dict[str, Any]:
        return {
            "ErrorEquals": list(TRANSIENT_ERRORS),
            "IntervalSeconds": self.interval_s,
            "MaxAttempts": self.max_attempts,
            "BackoffRate": self.backoff_rate,
            "MaxDelaySeconds": self.max_delay_s,
            "JitterStrategy": "FULL",
        }


def compensations(
    steps: Sequence[SagaStep], failed: int, *, definite: bool = True
) -> list[SagaStep]:
    """The steps undone when step `failed` (0-based) fails, in the order they are undone."""
    done = steps[:failed] if definite else steps[: failed + 1]
    return list(reversed(done))


def _key(step: SagaStep) -> dict[str, Any]:
    return {RESOURCE_KEY: {"S.$": step.resource_key()}}


def compensation_retry() -> list[dict[str, Any]]:
    """A compensation's Retry. "No such resource" is an answer (nothing was ever held there):
    never retried. Anything else is retried for about an hour, whatever it is: an error that
    looks permanent (access denied, no such table) may be a role or table being fixed, and
    giving up leaves a hold that only an operator can release."""
    return [
        {"ErrorEquals": [DEFINITE_FAILURE], "MaxAttempts": 0},
        {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": thresholds.SAGA_COMPENSATION_INTERVAL_S,
            "MaxAttempts": thresholds.SAGA_COMPENSATION_MAX_ATTEMPTS,
            "BackoffRate": thresholds.SAGA_RETRY_BACKOFF_RATE,
            "MaxDelaySeconds": thresholds.SAGA_COMPENSATION_MAX_DELAY_S,
            "JitterStrategy": "FULL",
        },
    ]


def _book(step: SagaStep, table_name: Any, retry: RetryPolicy, next_state: str) -> dict[str, Any]:
    """Hold the resource; a definite failure goes to the step's "unavailable" record, anything
    else left after the retries to its "uncertain" one."""
    return {
        "Type": "Task",
        "Comment": f"Hold the {step.name} for this booking (idempotent: a set add).",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": table_name,
            "Key": _key(step),
            "UpdateExpression": "ADD #holds :booking",
            "ConditionExpression": (
                f"attribute_exists({RESOURCE_KEY}) AND ("
                "(attribute_not_exists(#holds) AND #capacity > :none) "
                "OR (attribute_exists(#holds) "
                "AND (contains(#holds, :bookingId) OR size(#holds) < #capacity)))"
            ),
            "ExpressionAttributeNames": {"#holds": "holds", "#capacity": "capacity"},
            "ExpressionAttributeValues": {
                ":booking": {"SS.$": "States.Array($.bookingId)"},
                ":bookingId": {"S.$": "$.bookingId"},
                ":none": {"N": "0"},
            },
        },
        "ResultPath": None,
        "Retry": [retry.retrier()],
        "Catch": [
            {
                "ErrorEquals": [DEFINITE_FAILURE],
                "ResultPath": "$.failure",
                "Next": step.unavailable_state,
            },
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.failure",
                "Next": step.uncertain_state,
            },
        ],
        "Next": next_state,
    }


def _cancel(step: SagaStep, table_name: Any, next_state: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": f"Release this booking's {step.name} (idempotent: a set delete).",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": table_name,
            "Key": _key(step),
            "UpdateExpression": "DELETE #holds :booking",
            # Without it, an update of a resource that does not exist would create an item.
            "ConditionExpression": f"attribute_exists({RESOURCE_KEY})",
            "ExpressionAttributeNames": {"#holds": "holds"},
            "ExpressionAttributeValues": {":booking": {"SS.$": "States.Array($.bookingId)"}},
        },
        "ResultPath": None,
        "Retry": compensation_retry(),
        "Catch": [
            # No such resource: nothing was ever held on it, so there is nothing to undo.
            {"ErrorEquals": [DEFINITE_FAILURE], "ResultPath": None, "Next": next_state},
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.compensationFailure",
                "Next": step.not_released_state,
            },
        ],
        "Next": next_state,
    }


def _not_released(step: SagaStep, still_held: Sequence[SagaStep]) -> dict[str, Any]:
    """What a compensation that gave up leaves: the booking's failure (from `$.saga`), this
    release's error, and the keys of the resources that may still hold the booking (this one
    and those the chain would have released after it)."""
    return {
        "Type": "Pass",
        "Comment": f"The {step.name} could not be released: note what may still be held.",
        "Parameters": {
            "failedStep.$": "$.saga.failedStep",
            "outcome.$": "$.saga.outcome",
            "compensated.$": "$.saga.compensated",
            "releaseFailed": step.name,
            "stillHeld.$": "States.Array("
            + ", ".join(held.resource_key() for held in still_held)
            + ")",
            "failure.$": "$.compensationFailure",
            "recorded": False,
        },
        "ResultPath": "$.compensation",
        "Next": RECORD_COMPENSATION_FAILURE_STATE,
    }


def _record_compensation_failure(table_name: Any) -> dict[str, Any]:
    """Write `$.compensation` to the table, where the repair tool finds it: the history of a
    failed execution is not a list anyone can query, and the alarm says only that one failed.
    Keyed by booking id, so writing it again (a redrive) changes nothing but the time."""
    return {
        "Type": "Task",
        "Comment": "Record what this booking may still hold, for python -m tools.saga_repair.",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": table_name,
            "Key": {
                RESOURCE_KEY: {
                    "S.$": f"States.Format('{FAILED_COMPENSATION_KEY_PREFIX}{{}}', $.bookingId)"
                }
            },
            "UpdateExpression": (
                "SET bookingId = :bookingId, executionArn = :executionArn, "
                "failedStep = :failedStep, releaseFailed = :releaseFailed, "
                "stillHeld = :stillHeld, #error = :error, failedAt = :failedAt "
                "REMOVE repairedAt"
            ),
            "ExpressionAttributeNames": {"#error": "error"},
            "ExpressionAttributeValues": {
                ":bookingId": {"S.$": "$.bookingId"},
                ":executionArn": {"S.$": "$$.Execution.Id"},
                ":failedStep": {"S.$": "$.compensation.failedStep"},
                ":releaseFailed": {"S.$": "$.compensation.releaseFailed"},
                ":stillHeld": {"SS.$": "$.compensation.stillHeld"},
                ":error": {"S.$": "States.JsonToString($.compensation.failure)"},
                ":failedAt": {"S.$": "$$.State.EnteredTime"},
            },
        },
        "ResultPath": None,
        # The table is likely what failed the compensation: give the record as long.
        "Retry": compensation_retry()[1:],
        "Catch": [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.compensation.recordFailure",
                "Next": COMPENSATION_FAILED_STATE,
            }
        ],
        "Next": COMPENSATION_RECORDED_STATE,
    }


def _record(
    step: SagaStep, undone: Sequence[SagaStep], definite: bool, next_state: str
) -> dict[str, Any]:
    return {
        "Type": "Pass",
        "Comment": (
            f"The {step.name} {'was not booked' if definite else 'may have been booked'}: "
            "record what the compensations undo."
        ),
        "Parameters": {
            "failedStep": step.name,
            "outcome": "unavailable" if definite else "uncertain",
            "compensated": [done.name for done in undone],
            "error.$": "$.failure.Error",
            "cause.$": "$.failure.Cause",
        },
        "ResultPath": "$.saga",
        "Next": next_state,
    }


def saga_definition(
    table_name: Any,
    steps: Sequence[SagaStep] = BOOKING_STEPS,
    retry: RetryPolicy | None = None,
) -> dict[str, Any]:
    """The state machine definition as a dict (render it with json.dumps, or with
    `pulumi.Output.json_dumps` when `table_name` is an Output).

    Input: `{"bookingId": ..., "<step.input_field>": ..., ...}`; the booking id is also the
    execution's name. Output on success: the input. On failure the Fail state's cause is the
    JSON of `{"failedStep", "outcome", "compensated", "error", "cause"}`; when a compensation
    gave up (error CompensationFailed), of `{"failedStep", "outcome", "compensated",
    "releaseFailed", "stillHeld", "failure", "recorded"}`.
    """
    if not steps:
        raise ValueError("saga_definition: give at least one step.")
    if len({step.name for step in steps}) != len(steps):
        raise ValueError("saga_definition: step names must be unique.")
    retry = retry or RetryPolicy()
    states: dict[str, Any] = {}

    # Compensations chain backwards: undoing step i continues with undoing step i - 1, so
    # when it gives up, steps i, i - 1, ..., 0 may still be held.
    for index, step in enumerate(steps):
        after = steps[index - 1].cancel_state if index > 0 else FAILED_STATE
        states[step.cancel_state] = _cancel(step, table_name, after)
        states[step.not_released_state] = _not_released(step, steps[index::-1])
    states[RECORD_COMPENSATION_FAILURE_STATE] = _record_compensation_failure(table_name)
    states[COMPENSATION_RECORDED_STATE] = {
        "Type": "Pass",
        "Result": True,
        "ResultPath": "$.compensation.recorded",
        "Next": COMPENSATION_FAILED_STATE,
    }

    for index, step in enumerate(steps):
        following = steps[index + 1].book_state if index + 1 < len(steps) else SUCCEEDED_STATE
        states[step.book_state] = _book(step, table_name, retry, following)
        definite_next = steps[index - 1].cancel_state if index > 0 else FAILED_STATE
        states[step.unavailable_state] = _record(
            step, compensations(steps, index, definite=True), True, definite_next
        )
        states[step.uncertain_state] = _record(
            step, compensations(steps, index, definite=False), False, step.cancel_state
        )

    states[SUCCEEDED_STATE] = {"Type": "Succeed"}
    states[FAILED_STATE] = {
        "Type": "Fail",
        "Comment": "Every booking made so far has been released.",
        "Error": BOOKING_FAILED_ERROR,
        "CausePath": "States.JsonToString($.saga)",
    }
    states[COMPENSATION_FAILED_STATE] = {
        "Type": "Fail",
        "Comment": (
            "A compensation kept failing: the cause lists what may still be held, and whether "
            "it was recorded for python -m tools.saga_repair (the Saga component alarms on it)."
        ),
        "Error": COMPENSATION_FAILED_ERROR,
        "CausePath": "States.JsonToString($.compensation)",
    }
    return {
        "Comment": "Book "
        + " -> ".join(step.name for step in steps)
        + ", compensating in reverse.",
        "StartAt": steps[0].book_state,
        "States": states,
    }


def compensation_matrix(steps: Sequence[SagaStep] = BOOKING_STEPS) -> list[tuple[str, list[str]]]:
    """(failed step, steps compensated in order) for a definite failure at each step."""
    return [
        (step.name, [done.name for done in compensations(steps, index)])
        for index, step in enumerate(steps)
    ]
