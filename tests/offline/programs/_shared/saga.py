"""A two-step saga in Step Functions (hold a hotel, then a flight, in a table of its own per
region), logged and traced, for the example programs about Step Functions definitions: each
builds the definition its own way (`without_catch`), the rest is this."""

import json
from dataclasses import dataclass

import baseline
import pulumi
import pulumi_aws as aws

RETRY = [
    {
        "ErrorEquals": ["DynamoDB.ThrottlingException", "DynamoDB.InternalServerErrorException"],
        "IntervalSeconds": 1,
        "MaxAttempts": 3,
        "BackoffRate": 2,
    }
]


def hold(table_name: str, item: str, next_state: str) -> dict[str, object]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": table_name,
            "Key": {"pk": {"S": item}},
            "UpdateExpression": "ADD #holds :booking",
            "ExpressionAttributeNames": {"#holds": "holds"},
            "ExpressionAttributeValues": {":booking": {"SS.$": "States.Array($.bookingId)"}},
        },
        "ResultPath": None,
        "Retry": RETRY,
        "Next": next_state,
    }


def without_catch(table_ref: str) -> str:
    """The definition whose second step retries but catches nothing: when it finally fails, the
    first step's hold is never released (CancelHotel never runs)."""
    book_hotel = hold(table_ref, "hotel#h-1", "BookFlight")
    book_hotel["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "Failed"}]
    book_flight = hold(table_ref, "flight#f-1", "Booked")
    cancel_hotel = {
        **hold(table_ref, "hotel#h-1", "Failed"),
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
    }
    return json.dumps(
        {
            "StartAt": "BookHotel",
            "States": {
                "BookHotel": book_hotel,
                "BookFlight": book_flight,
                "CancelHotel": cancel_hotel,
                "Booked": {"Type": "Succeed"},
                "Failed": {"Type": "Fail", "Error": "BookingFailed"},
            },
        }
    )


@dataclass(frozen=True)
class SagaParts:
    table_name: str
    table: aws.dynamodb.Table
    logs: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    policy: aws.iam.RolePolicy


def parts(region: str) -> SagaParts:
    """The saga's table, log group, role and policy in `region`."""
    table_name = f"trips-{region}"
    table = aws.dynamodb.Table(
        table_name,
        name=table_name,
        region=region,
        billing_mode="PAY_PER_REQUEST",
        hash_key="pk",
        attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
        tags={"resilience:single-region": "true"},
    )
    logs = aws.cloudwatch.LogGroup(
        f"trips-{region}-logs",
        region=region,
        name_prefix=f"/aws/vendedlogs/states/trips-{region}-",
        retention_in_days=30,
    )
    role = aws.iam.Role(
        f"trips-{region}-role",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "states.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    policy = aws.iam.RolePolicy(
        f"trips-{region}-policy",
        role=role.id,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    baseline.statement(["dynamodb:UpdateItem"], [table.arn], "Holds"),
                    baseline.statement(
                        ["logs:CreateLogDelivery", "logs:GetLogDelivery"], ["*"], "Logs"
                    ),
                    baseline.statement(["xray:PutTraceSegments"], ["*"], "Tracing"),
                ],
            }
        ),
    )
    return SagaParts(table_name, table, logs, role, policy)


def state_machine(region: str, saga: SagaParts, definition: pulumi.Input[str]) -> None:
    aws.sfn.StateMachine(
        f"trips-{region}",
        region=region,
        role_arn=saga.role.arn,
        definition=definition,
        logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
            level="ALL",
            include_execution_data=True,
            log_destination=pulumi.Output.concat(saga.logs.arn, ":*"),
        ),
        tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
        # The definition names the table as text: the dependency is declared.
        opts=pulumi.ResourceOptions(depends_on=[saga.policy, saga.table]),
    )
