"""Two defects no preview can see: both are built inside `<output>.apply(...)`, so their JSON is
unknown until the resources it names exist.

- a two-step saga whose definition names the table by its ARN (`table.arn.apply(...)`), whose
  second step catches nothing;
- a work queue whose redrive policy names its DLQ by ARN (`dlq.arn.apply(...)`) with
  maxReceiveCount 50.

At preview the pack says both checks are decided at `pulumi up`; in the update shape (known
outputs) both are mandatory violations."""

import json
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

RETRY = [
    {
        "ErrorEquals": ["DynamoDB.ThrottlingException", "DynamoDB.InternalServerErrorException"],
        "IntervalSeconds": 1,
        "MaxAttempts": 3,
        "BackoffRate": 2,
    }
]


def hold(table_ref: str, item: str, next_state: str) -> dict[str, object]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": table_ref,
            "Key": {"pk": {"S": item}},
            "UpdateExpression": "ADD #holds :booking",
            "ExpressionAttributeNames": {"#holds": "holds"},
            "ExpressionAttributeValues": {":booking": {"SS.$": "States.Array($.bookingId)"}},
        },
        "ResultPath": None,
        "Retry": RETRY,
        "Next": next_state,
    }


service = baseline.build()
for region in service.regions:
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

    def saga(table_arn: str) -> str:
        book_hotel = hold(table_arn, "hotel#h-1", "BookFlight")
        book_hotel["Catch"] = [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "Failed"}
        ]
        # The defect: BookFlight has no Catch, so CancelHotel never runs when it fails.
        book_flight = hold(table_arn, "flight#f-1", "Booked")
        cancel_hotel = {
            **hold(table_arn, "hotel#h-1", "Failed"),
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

    dlq = aws.sqs.Queue(
        f"jobs-{region}-dlq",
        region=region,
        message_retention_seconds=1_209_600,
        sqs_managed_sse_enabled=True,
    )
    aws.sqs.Queue(
        f"jobs-{region}-queue",
        region=region,
        message_retention_seconds=1_209_600,
        sqs_managed_sse_enabled=True,
        # The defect: 50 receives keep a poison message cycling for hours.
        redrive_policy=dlq.arn.apply(
            lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 50})
        ),
    )
    aws.sfn.StateMachine(
        f"trips-{region}",
        region=region,
        role_arn=role.arn,
        definition=table.arn.apply(saga),
        logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
            level="ALL",
            include_execution_data=True,
            log_destination=pulumi.Output.concat(logs.arn, ":*"),
        ),
        tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
        # The definition names the table as text: the dependency is declared.
        opts=pulumi.ResourceOptions(depends_on=[policy, table]),
    )
