"""Events, contexts and AWS resources for driving the handlers the way Lambda does."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3

from saga_model import booking_execution_name, execution_arn
from task_model import parse_task_id

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
API_ID = "a1b2c3d4e5"
EXECUTE_API_HOST = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
TABLE_NAME = "resilient-tasks"
QUEUE_NAME = "resilient-tasks-work"
#: The IAM principal API Gateway names for a signed request, unless a test says otherwise.
DEFAULT_CALLER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/test-client"
#: The owner the handlers store for DEFAULT_CALLER_ARN (caller_identity.Caller.owner).
DEFAULT_OWNER = f"iam:{DEFAULT_CALLER_ARN}"


@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda context object that Powertools reads."""

    function_name: str = "task-app"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:task-app"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/task-app"
    log_stream_name: str = "2025/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class MotoResources:
    table_name: str
    queue_url: str
    queue_arn: str
    dynamodb: Any
    sqs: Any

    def items(self) -> list[dict[str, Any]]:
        return list(self.dynamodb.scan(TableName=self.table_name, ConsistentRead=True)["Items"])

    def item(self, task_id: str) -> dict[str, Any] | None:
        """The item of a task, by the id a client got (or by its key: the id's last part)."""
        key = parse_task_id(task_id).key
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key={"taskId": {"S": key}}, ConsistentRead=True
        )
        item = response.get("Item")
        return dict(item) if item else None

    def messages_in_queue(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def receive_all(self, expected: int) -> list[dict[str, Any]]:
        """Receive until `expected` messages arrived (SQS hands out at most 10 per call)."""
        received: list[dict[str, Any]] = []
        for _ in range(expected + 5):
            if len(received) >= expected:
                break
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, expected - len(received)),
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            received.extend(response.get("Messages", []))
        return received

    def send_raw(self, body: str) -> str:
        return str(self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"])


def create_resources(endpoint_url: str | None) -> MotoResources:
    """The tasks table (as the components declare it) and a work queue."""
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint_url)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint_url)
    dynamodb.create_table(
        TableName=TABLE_NAME,
        AttributeDefinitions=[{"AttributeName": "taskId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "taskId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return MotoResources(TABLE_NAME, queue_url, queue_arn, dynamodb, sqs)


def api_event(
    method: str,
    path: str,
    body: str | None = None,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    stage: str = "prod",
    domain_name: str = EXECUTE_API_HOST,
    request_path: str | None = None,
    is_base64_encoded: bool = False,
    user_arn: str | None = DEFAULT_CALLER_ARN,
    api_key_id: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event as Lambda receives it, from the caller API Gateway
    authorized: `user_arn` (SigV4) and/or `api_key_id` (an API key); neither for a route
    deployed without authorization."""
    request_id = str(uuid.uuid4())
    headers = {
        "Host": domain_name,
        "Content-Type": "application/json",
        "X-Forwarded-Proto": "https",
        "X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678",
    }
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain_name,
            "httpMethod": method,
            "path": request_path if request_path is not None else f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "resourcePath": resource or path,
            "stage": stage,
            "identity": caller_identity(user_arn, api_key_id),
        },
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    }


def caller_identity(user_arn: str | None, api_key_id: str | None) -> dict[str, Any]:
    """requestContext.identity as API Gateway fills it in (absent values are null)."""
    return {
        "sourceIp": "203.0.113.7",
        "userAgent": "pytest",
        "userArn": user_arn,
        "user": user_arn.rsplit(":", 1)[-1] if user_arn else None,
        "accountId": ACCOUNT_ID if user_arn else None,
        "apiKeyId": api_key_id,
        "apiKey": f"key-of-{api_key_id}" if api_key_id else None,
    }


def as_caller(
    event: dict[str, Any], user_arn: str | None = None, api_key_id: str | None = None
) -> dict[str, Any]:
    """`event`, sent by another caller (neither: by no identified caller)."""
    event["requestContext"]["identity"] = caller_identity(user_arn, api_key_id)
    return event


def booking_execution_arn(
    state_machine_arn: str, booking_id: str, owner: str = DEFAULT_OWNER
) -> str:
    """The execution behind `owner`'s booking `booking_id` (the API never answers it)."""
    return execution_arn(state_machine_arn, booking_execution_name(owner, booking_id))


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS poller builds from a ReceiveMessage result."""
    records = []
    for message in messages:
        attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": attributes,
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


@dataclass
class ApiAnswer:
    status_code: int
    body: dict[str, Any]
    headers: dict[str, Any]


def call_api(handler: Any, context: Any, event: dict[str, Any]) -> ApiAnswer:
    response = handler(event, context)
    body = json.loads(response["body"]) if response.get("body") else {}
    headers = dict(response.get("headers") or {})
    headers.update({k: v[0] for k, v in (response.get("multiValueHeaders") or {}).items()})
    return ApiAnswer(response["statusCode"], body, headers)


def submit_event(request: dict[str, Any] | str) -> dict[str, Any]:
    body = request if isinstance(request, str) else json.dumps(request)
    return api_event("POST", "/tasks", body)


def get_event(task_id: str) -> dict[str, Any]:
    return api_event(
        "GET",
        f"/tasks/{task_id}",
        resource="/tasks/{taskId}",
        path_parameters={"taskId": task_id},
    )


def health_event() -> dict[str, Any]:
    return api_event("GET", "/health")


def emitted_metrics(output: str) -> set[str]:
    """Metric names in the EMF documents Powertools printed."""
    names: set[str] = set()
    for line in output.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            for directive in document["_aws"]["CloudWatchMetrics"]:
                names.update(metric["Name"] for metric in directive["Metrics"])
    return names
