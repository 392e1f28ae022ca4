"""Saga: the booking saga (hotel -> flight -> car, with compensations) as a Step Functions state
machine in one region, with the inventory table its steps write to.

Step Functions is the saga's coordinator: it runs the steps in order, retries transient errors,
and on a final failure runs the compensations of what was booked, in reverse order (see
`saga_definition`, which builds the definition from Python). Every step is a direct DynamoDB
integration: no Lambda between the coordinator and the data, so no function to time out, be
throttled or be redeployed mid-saga.

The inventory table is regional on purpose: each region books from its own allotment. A global
table would let two regions hold the last room at once (replication resolves concurrent
writes to one item by last writer wins, which would silently drop a hold); partitioning the
inventory per region keeps every hold a single-region conditional write. The table carries the
`resilience:single-region` tag that tells the policy pack so.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds

from .alarms import maximum_above
from .iam import PolicyStatement, assume_role_policy, partition_of, policy_document
from .inputs import as_args, placed_in, schema_args
from .outputs import declared_outputs
from .saga_definition import (
    BOOKING_STEPS,
    COMPENSATION_FAILED_ERROR,
    RESOURCE_KEY,
    RetryPolicy,
    SagaStep,
    saga_definition,
)
from .tokens import component_type, keep_previous_token

#: Where the count of compensations that gave up goes (one metric per stack and saga).
SAGA_METRICS_NAMESPACE = "ResilientServerless/Sagas"
#: The execution log event of an execution that ended in the CompensationFailed Fail state.
#: Step Functions logs ExecutionFailed at every level but OFF (which SagaArgs refuses); its
#: `details.error` is there because the logging configuration includes execution data.
COMPENSATION_FAILED_PATTERN = (
    f'{{ ($.type = "ExecutionFailed") && ($.details.error = "{COMPENSATION_FAILED_ERROR}") }}'
)

# The steps and the retry policy are args too; saga_definition itself stays free of Pulumi.
schema_args(SagaStep)
schema_args(RetryPolicy)

#: The tag the policy pack's `dynamodb-global-table` reads as "regional by design".
SINGLE_REGION_TAG = "resilience:single-region"

#: What Step Functions needs to deliver execution logs to CloudWatch Logs. These are account-
#: level log delivery APIs: AWS documents that they take no resource narrower than '*'.
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
)
#: X-Ray has no resource-level permissions either.
TRACING_ACTIONS = (
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
)


def state_machine_arn_pattern(partition: str, region: str, account: str, resource_name: str) -> str:
    """The ARN (an ArnLike pattern) of the state machine Pulumi names after `resource_name`: its
    auto-generated name is the resource name, a dash and a random suffix."""
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{resource_name}-*"


@schema_args
@dataclass
class SagaArgs:
    """The saga's steps, retries and logging."""

    steps: Sequence[SagaStep] = BOOKING_STEPS
    """The bookable resources, in booking order (default: hotel, flight, car)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """How each step retries transient errors."""
    log_level: str = "ALL"
    """ALL (every state's input and output: the saga's audit trail), ERROR or FATAL."""
    log_retention_days: int = thresholds.LOG_RETENTION_DAYS_DEFAULT
    """Retention of the execution logs, a CloudWatch Logs retention value."""
    alarm_action_arn: pulumi.Input[str] | None = None
    """SNS topic (or any alarm action) for the alarm on a compensation that gave up."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource of the saga."""
    region: str | None = None
    """The AWS region of the state machine and its inventory table."""
    deletion_protection: bool = True
    """Deletion protection of the inventory table. Off only for a region about to be removed:
    the provider deletes a table without turning it off first, so a protected table stops the
    update that removes its region."""

    def validate(self) -> None:
        if not self.steps:
            raise ValueError("SagaArgs.steps: give at least one step.")
        if self.log_level not in thresholds.STATE_MACHINE_LOG_LEVELS or self.log_level == "OFF":
            raise ValueError(
                f"SagaArgs.log_level: {self.log_level!r} must be ALL, ERROR or FATAL; a saga "
                "without execution logs cannot be audited."
            )
        if self.log_retention_days not in thresholds.LOG_RETENTION_DAYS_ALLOWED:
            raise ValueError(
                f"SagaArgs.log_retention_days: {self.log_retention_days} is not a CloudWatch "
                f"Logs retention; use one of {thresholds.LOG_RETENTION_DAYS_ALLOWED}."
            )


class Saga(pulumi.ComponentResource):
    """The state machine, its role, its log group and its inventory table, in `region`."""

    execution_arns: pulumi.Output[str]
    """The ARN pattern of this state machine's executions (for DescribeExecution grants)."""
    state_machine_arn: pulumi.Output[str]
    """The state machine's ARN (for StartExecution)."""
    table_name: pulumi.Output[str]
    """The inventory table's name."""
    table_arn: pulumi.Output[str]
    """The inventory table's ARN."""
    log_group_name: pulumi.Output[str]
    """The execution log group."""

    def __init__(
        self,
        name: str,
        args: SagaArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        region: str | None = None,
    ) -> None:
        super().__init__(component_type("Saga"), name, None, keep_previous_token("Saga", opts))
        args = as_args(SagaArgs, args)
        region = placed_in("SagaArgs", args.region, region)
        args.validate()
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        self.table = aws.dynamodb.Table(
            f"{name}-table",
            region=region,
            billing_mode="PAY_PER_REQUEST",
            hash_key=RESOURCE_KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=RESOURCE_KEY, type="S")],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            # Recorded stream events expire; inventory items carry no expiresAt and stay.
            ttl=aws.dynamodb.TableTtlArgs(attribute_name="expiresAt", enabled=True),
            tags={**tags, SINGLE_REGION_TAG: "true"},
            opts=child,
        )
        # Log groups under /aws/vendedlogs/ do not grow the account's CloudWatch Logs resource
        # policy, which has a size limit that many state machines would otherwise reach.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            region=region,
            name_prefix=f"/aws/vendedlogs/states/{name}-",
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.role = aws.iam.Role(
            f"{name}-role",
            # Only Step Functions acting for this account's state machine of this saga may
            # assume it (cross-service confused deputy guard, as the Step Functions guide shows:
            # https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html).
            # The ARN is a pattern on the state machine's auto-generated name (its resource name
            # and a random suffix): the state machine needs the role, so the role cannot need
            # the state machine's ARN.
            assume_role_policy=assume_role_policy(
                "states.amazonaws.com",
                source_account=identity.account_id,
                source_arn=pulumi.Output.all(identity.arn, identity.account_id).apply(
                    lambda parts: state_machine_arn_pattern(
                        partition_of(parts[0]), region, parts[1], f"{name}-state-machine"
                    )
                ),
            ),
            description=f"Execution role of the {name} state machine ({region})",
            tags=tags,
            opts=child,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=policy_document(
                [
                    PolicyStatement(
                        sid="HoldAndReleaseInventory",
                        actions=["dynamodb:UpdateItem"],
                        resources=[self.table.arn],
                    ),
                    PolicyStatement(
                        sid="DeliverExecutionLogs",
                        actions=list(LOG_DELIVERY_ACTIONS),
                        resources=["*"],
                    ),
                    PolicyStatement(sid="Tracing", actions=list(TRACING_ACTIONS), resources=["*"]),
                ]
            ),
            opts=child,
        )
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-state-machine",
            region=region,
            type="STANDARD",  # exactly-once steps and a year of history; EXPRESS is at-least-once
            role_arn=self.role.arn,
            definition=pulumi.Output.json_dumps(
                saga_definition(self.table.name, args.steps, args.retry)
            ),
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level=args.log_level,
                include_execution_data=True,
                log_destination=pulumi.Output.concat(self.log_group.arn, ":*"),
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            tags=tags,
            # The role must be able to write the table and the logs before the first execution.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )
        # A compensation that gave up leaves a hold only an operator can release: count each such
        # execution from its log and alarm on the first. Nothing else reports it: AWS/States'
        # ExecutionsFailed also counts every booking that failed because something was sold out.
        # Named by stack and saga: two stacks in one account and region must not alarm for
        # each other (a metric filter takes no fixed dimensions).
        metric_name = f"CompensationsFailed-{pulumi.get_project()}-{pulumi.get_stack()}-{name}"
        aws.cloudwatch.LogMetricFilter(
            f"{name}-compensation-failures",
            region=region,
            log_group_name=self.log_group.name,
            pattern=COMPENSATION_FAILED_PATTERN,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                namespace=SAGA_METRICS_NAMESPACE,
                name=metric_name,
                value="1",
            ),
            opts=child,
        )
        self.compensation_failed_alarm = maximum_above(
            f"{name}-compensation-failed",
            region=region,
            namespace=SAGA_METRICS_NAMESPACE,
            metric=metric_name,
            dimensions={},
            threshold=0,
            evaluation_periods=1,
            description=(
                f"Saga {name} ({region}): a compensation gave up after about an hour of retries, "
                "so a failed booking still holds inventory (its record is in the saga's table). "
                "List the holds: python -m tools.saga_repair --state-machine-arn <the stack "
                f"output bookingStateMachineArns[{region}]>; release them with --apply."
            ),
            alarm_action_arn=args.alarm_action_arn,
            opts=child,
        )
        self.execution_arns = self.state_machine.arn.apply(
            lambda arn: arn.replace(":stateMachine:", ":execution:", 1) + ":*"
        )
        self.state_machine_arn = self.state_machine.arn
        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.log_group_name = self.log_group.name
        self.register_outputs(declared_outputs(self))
