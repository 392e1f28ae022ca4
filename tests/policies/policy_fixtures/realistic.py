"""The active-active task service as the engine reports it: a resource-for-resource copy of what
the project's components register (names, types, inputs, links), so that the pack's verdicts on
these fixtures are its verdicts on the real program.

`active_active_stack()` builds the compliant service; rule fixtures mutate a copy of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .builder import STACK_TYPE, JsonOf, Resource, StackBuilder, concat

REGIONS: tuple[str, ...] = ("us-east-1", "eu-west-1")
SERVICE = "tasks"
DOMAIN = "tasks.example.com"
ZONE_ID = "Z0123456789ABC"
POWERTOOLS_LAYER = (
    "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27"
)
ASSUME_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
ARCHIVE_SIGNATURE = {
    "4dabf18193072939515e22adb298388d": "0def7320c3a5731c473e5ecbe6d01bc7",
    "assets": {
        name: {"4dabf18193072939515e22adb298388d": "c44067f5952c0a294b673a41bacd8c17", "path": path}
        for name, path in (
            ("task_api.py", "/src/handlers/task_api.py"),
            ("task_worker.py", "/src/handlers/task_worker.py"),
        )
    },
}
WORKER_TIMEOUT_S = 30
WORKER_BATCHING_WINDOW_S = 1
API_TIMEOUT_S = 10
TAGS = {"service": SERVICE}
APIGW_LOGGING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


def function(
    b: StackBuilder,
    name: str,
    region: str,
    *,
    parent: Resource,
    handler: str,
    timeout: int,
    memory: int,
    environment: dict[str, object],
    statements: Sequence[dict[str, object]],
) -> Resource:
    """The Function component: log group, role, inline role policy, Lambda function."""
    component = b.component("resilient-serverless:index:Function", name, parent)
    logs = b.add(
        "aws:cloudwatch/logGroup:LogGroup",
        f"{name}-logs",
        {"region": region, "retentionInDays": 30, "tags": TAGS},
        parent=component,
    )
    role = b.add(
        "aws:iam/role:Role",
        f"{name}-role",
        {
            "assumeRolePolicy": ASSUME_LAMBDA,
            "description": f"Execution role of {name} ({region})",
            "tags": TAGS,
        },
        parent=component,
    )
    policy = b.add(
        "aws:iam/rolePolicy:RolePolicy",
        f"{name}-policy",
        {
            "role": role.out("id"),
            "policy": JsonOf(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": [concat(logs.out("arn"), ":*")],
                            "Sid": "OwnLogGroup",
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                            "Resource": ["*"],
                            "Sid": "Tracing",
                        },
                        *statements,
                    ],
                }
            ),
        },
        parent=component,
    )
    del policy
    return b.add(
        "aws:lambda/function:Function",
        f"{name}-fn",
        {
            "region": region,
            "role": role.out("arn"),
            "runtime": "python3.14",
            "architectures": ["arm64"],
            "handler": handler,
            "code": ARCHIVE_SIGNATURE,
            "timeout": timeout,
            "memorySize": memory,
            "layers": [POWERTOOLS_LAYER.format(region=region)],
            "tracingConfig": {"mode": "Active"},
            "loggingConfig": {"logFormat": "JSON", "logGroup": logs.out("name")},
            "environment": {"variables": environment},
            "description": f"{handler} ({region})",
            "tags": TAGS,
        },
        parent=component,
    )


def table_arn(table: Resource, region: str) -> object:
    return concat("arn:aws:dynamodb:", region, ":123456789012:table/", table.out("name"))


def region_stack(
    b: StackBuilder, region: str, service: Resource, table: Resource, logging_role: Resource
) -> None:
    prefix = f"{SERVICE}-{region}"
    topic = b.add(
        "aws:sns/topic:Topic", f"{prefix}-alarms", {"region": region, "tags": TAGS}, parent=service
    )
    b.add(
        "aws:sns/topicSubscription:TopicSubscription",
        f"{prefix}-alarms-email",
        {
            "region": region,
            "topic": topic.out("arn"),
            "protocol": "email",
            "endpoint": "oncall@example.com",
        },
        parent=service,
    )

    worker = b.component("resilient-serverless:index:QueueWorker", f"{prefix}-worker", service)
    dlq = b.add(
        "aws:sqs/queue:Queue",
        f"{prefix}-worker-dlq",
        {
            "region": region,
            "messageRetentionSeconds": 1_209_600,
            "sqsManagedSseEnabled": True,
            "tags": TAGS,
        },
        parent=worker,
    )
    queue = b.add(
        "aws:sqs/queue:Queue",
        f"{prefix}-worker-queue",
        {
            "region": region,
            "visibilityTimeoutSeconds": 6 * WORKER_TIMEOUT_S + WORKER_BATCHING_WINDOW_S,
            "messageRetentionSeconds": 345_600,
            "sqsManagedSseEnabled": True,
            "tags": TAGS,
        },
        parent=worker,
    )
    b.add(
        "aws:sqs/redrivePolicy:RedrivePolicy",
        f"{prefix}-worker-redrive",
        {
            "region": region,
            "queueUrl": queue.out("url"),
            "redrivePolicy": JsonOf({"deadLetterTargetArn": dlq.out("arn"), "maxReceiveCount": 5}),
        },
        parent=worker,
    )
    b.add(
        "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
        f"{prefix}-worker-redrive-allow",
        {
            "region": region,
            "queueUrl": dlq.out("url"),
            "redriveAllowPolicy": JsonOf(
                {"redrivePermission": "byQueue", "sourceQueueArns": [queue.out("arn")]}
            ),
        },
        parent=worker,
    )
    common_environment = {
        "TABLE_NAME": table.out("name"),
        "TASK_TTL_SECONDS": "604800",
        "POWERTOOLS_METRICS_NAMESPACE": "ResilientServerless",
        "LOG_LEVEL": "INFO",
    }
    consumer = function(
        b,
        f"{prefix}-worker-consumer",
        region,
        parent=worker,
        handler="task_worker.handler",
        timeout=WORKER_TIMEOUT_S,
        memory=512,
        environment={**common_environment, "POWERTOOLS_SERVICE_NAME": "tasks-worker"},
        statements=[
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
                "Resource": [table_arn(table, region)],
                "Sid": "RecordResults",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ReceiveMessage",
                ],
                "Resource": [queue.out("arn")],
                "Sid": "ConsumeWorkQueue",
            },
        ],
    )
    b.add(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        f"{prefix}-worker-mapping",
        {
            "region": region,
            "eventSourceArn": queue.out("arn"),
            "functionName": consumer.out("arn"),
            "batchSize": 10,
            "maximumBatchingWindowInSeconds": WORKER_BATCHING_WINDOW_S,
            "functionResponseTypes": ["ReportBatchItemFailures"],
            "scalingConfig": {"maximumConcurrency": 10},
        },
        parent=worker,
    )
    for suffix, watched, metric, threshold, periods in (
        ("dlq-depth", dlq, "ApproximateNumberOfMessagesVisible", 0, 1),
        ("oldest-message", queue, "ApproximateAgeOfOldestMessage", 600, 5),
    ):
        b.add(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            f"{prefix}-worker-{suffix}",
            {
                "region": region,
                "alarmDescription": f"{suffix} of {prefix}-worker ({region})",
                "namespace": "AWS/SQS",
                "metricName": metric,
                "dimensions": {"QueueName": watched.out("name")},
                "statistic": "Maximum",
                "period": 60,
                "evaluationPeriods": periods,
                "threshold": threshold,
                "comparisonOperator": "GreaterThanThreshold",
                "treatMissingData": "notBreaching",
                "alarmActions": [topic.out("arn")],
                "okActions": [topic.out("arn")],
            },
            parent=worker,
        )

    api_function = function(
        b,
        f"{prefix}-api",
        region,
        parent=service,
        handler="task_api.handler",
        timeout=API_TIMEOUT_S,
        memory=256,
        environment={
            **common_environment,
            "QUEUE_URL": queue.out("url"),
            "POWERTOOLS_SERVICE_NAME": "tasks-api",
        },
        statements=[
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:DescribeTable",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ],
                "Resource": [table_arn(table, region)],
                "Sid": "SubmitAndReadTasks",
            },
            {
                "Effect": "Allow",
                "Action": ["sqs:GetQueueAttributes", "sqs:SendMessage"],
                "Resource": [queue.out("arn")],
                "Sid": "EnqueueTasks",
            },
        ],
    )
    regional_api(b, region, service, api_function, logging_role)


def regional_api(
    b: StackBuilder, region: str, service: Resource, function: Resource, logging_role: Resource
) -> None:
    name = f"{SERVICE}-{region}-api"
    component = b.component("resilient-serverless:index:RegionalApi", name, service)
    api = b.add(
        "aws:apigateway/restApi:RestApi",
        f"{name}-api",
        {
            "region": region,
            "description": f"{name} ({region})",
            "endpointConfiguration": {"types": "REGIONAL"},
            "tags": TAGS,
        },
        parent=component,
    )
    paths: dict[str, Resource] = {}
    for path, parent_path in (("tasks", ""), ("tasks/{taskId}", "tasks"), ("health", "")):
        slug = path.lower().replace("/", "-").replace("{", "").replace("}", "")
        paths[path] = b.add(
            "aws:apigateway/resource:Resource",
            f"{name}-path-{slug}",
            {
                "region": region,
                "restApi": api.out("id"),
                "parentId": paths[parent_path].out("id")
                if parent_path
                else api.out("rootResourceId"),
                "pathPart": path.rsplit("/", 1)[-1],
            },
            parent=component,
        )
    for method, path in (("POST", "tasks"), ("GET", "tasks/{taskId}"), ("GET", "health")):
        slug = f"{method.lower()}-" + path.lower().replace("/", "-").replace("{", "").replace(
            "}", ""
        )
        method_resource = b.add(
            "aws:apigateway/method:Method",
            f"{name}-{slug}",
            {
                "region": region,
                "restApi": api.out("id"),
                "resourceId": paths[path].out("id"),
                "httpMethod": method,
                "authorization": "NONE",
            },
            parent=component,
            outputs={"httpMethod": method},
        )
        b.add(
            "aws:apigateway/integration:Integration",
            f"{name}-{slug}-integration",
            {
                "region": region,
                "restApi": api.out("id"),
                "resourceId": paths[path].out("id"),
                "httpMethod": method_resource.out("httpMethod"),
                "type": "AWS_PROXY",
                "integrationHttpMethod": "POST",
                "uri": function.out("invokeArn"),
                "timeoutMilliseconds": 29_000,
            },
            parent=component,
        )
    b.add(
        "aws:lambda/permission:Permission",
        f"{name}-invoke",
        {
            "region": region,
            "action": "lambda:InvokeFunction",
            "function": function.out("name"),
            "principal": "apigateway.amazonaws.com",
            "sourceArn": concat(api.out("executionArn"), "/*/*"),
        },
        parent=component,
    )
    deployment = b.add(
        "aws:apigateway/deployment:Deployment",
        f"{name}-deployment",
        {"region": region, "restApi": api.out("id"), "triggers": {"routes": "3f9a0c"}},
        parent=component,
    )
    access_logs = b.add(
        "aws:cloudwatch/logGroup:LogGroup",
        f"{name}-access-logs",
        {"region": region, "retentionInDays": 30, "tags": TAGS},
        parent=component,
    )
    b.add(
        "aws:apigateway/account:Account",
        f"{name}-account-logging",
        {"region": region, "cloudwatchRoleArn": logging_role.out("arn")},
        parent=component,
    )
    stage = b.add(
        "aws:apigateway/stage:Stage",
        f"{name}-stage",
        {
            "region": region,
            "restApi": api.out("id"),
            "deployment": deployment.out("id"),
            "stageName": "v1",
            "xrayTracingEnabled": True,
            "accessLogSettings": {
                "destinationArn": access_logs.out("arn"),
                "format": '{"requestId":"$context.requestId"}',
            },
            "tags": TAGS,
        },
        parent=component,
        outputs={"stageName": "v1"},
    )
    b.add(
        "aws:apigateway/methodSettings:MethodSettings",
        f"{name}-throttling",
        {
            "region": region,
            "restApi": api.out("id"),
            "stageName": stage.out("stageName"),
            "methodPath": "*/*",
            "settings": {
                "throttlingBurstLimit": 200,
                "throttlingRateLimit": 100,
                "metricsEnabled": True,
                "loggingLevel": "ERROR",
            },
        },
        parent=component,
    )
    certificate = b.add(
        "aws:acm/certificate:Certificate",
        f"{name}-cert",
        {"region": region, "domainName": DOMAIN, "validationMethod": "DNS", "tags": TAGS},
        parent=component,
    )
    record = b.add(
        "aws:route53/record:Record",
        f"{name}-cert-validation",
        {
            "zoneId": ZONE_ID,
            "name": certificate.out("domainValidationOptions", 0, "resourceRecordName"),
            "type": certificate.out("domainValidationOptions", 0, "resourceRecordType"),
            "records": [certificate.out("domainValidationOptions", 0, "resourceRecordValue")],
            "ttl": 300,
            "allowOverwrite": True,
        },
        parent=component,
        outputs={"fqdn": "_x1.tasks.example.com"},
    )
    validation = b.add(
        "aws:acm/certificateValidation:CertificateValidation",
        f"{name}-cert-issued",
        {
            "region": region,
            "certificateArn": certificate.out("arn"),
            "validationRecordFqdns": [record.out("fqdn")],
        },
        parent=component,
    )
    validation.outputs["certificateArn"] = certificate.outputs["arn"]
    domain = b.add(
        "aws:apigateway/domainName:DomainName",
        f"{name}-domain",
        {
            "region": region,
            "domainName": DOMAIN,
            "regionalCertificateArn": validation.out("certificateArn"),
            "endpointConfiguration": {"types": "REGIONAL"},
            "securityPolicy": "TLS_1_2",
            "tags": TAGS,
        },
        parent=component,
        outputs={"domainName": DOMAIN},
    )
    b.add(
        "aws:apigateway/basePathMapping:BasePathMapping",
        f"{name}-mapping",
        {
            "region": region,
            "domainName": domain.out("domainName"),
            "restApi": api.out("id"),
            "stageName": stage.out("stageName"),
        },
        parent=component,
    )


def latency_routing(b: StackBuilder, service: Resource, regions: Sequence[str]) -> None:
    name = f"{SERVICE}-routing"
    component = b.component("resilient-serverless:index:LatencyRouting", name, service)
    for region in regions:
        api = b.named(f"{SERVICE}-{region}-api-api")
        domain = b.named(f"{SERVICE}-{region}-api-domain")
        health_check = b.add(
            "aws:route53/healthCheck:HealthCheck",
            f"{name}-{region}-health",
            {
                "type": "HTTPS",
                "fqdn": concat(api.out("id"), ".execute-api.", region, ".amazonaws.com"),
                "port": 443,
                "resourcePath": "/v1/health",
                "enableSni": True,
                "requestInterval": 30,
                "failureThreshold": 3,
                "measureLatency": True,
                "tags": {"Name": f"{DOMAIN} {region}"},
            },
            parent=component,
        )
        b.add(
            "aws:route53/record:Record",
            f"{name}-{region}-latency",
            {
                "zoneId": ZONE_ID,
                "name": DOMAIN,
                "type": "A",
                "setIdentifier": region,
                "latencyRoutingPolicies": [{"region": region}],
                "healthCheckId": health_check.out("id"),
                "aliases": [
                    {
                        "name": domain.out("regionalDomainName"),
                        "zoneId": domain.out("regionalZoneId"),
                        "evaluateTargetHealth": True,
                    }
                ],
            },
            parent=component,
        )


def active_active_stack(regions: Sequence[str] = REGIONS, stack: str = "test") -> StackBuilder:
    """The whole compliant service, in `regions` (the first holds the table)."""
    b = StackBuilder(stack=stack)
    root = b.component(STACK_TYPE, f"resilient-serverless-{stack}")
    service = b.component("resilient-serverless:index:ActiveActiveService", SERVICE, root)
    tables = b.component("resilient-serverless:index:GlobalTable", f"{SERVICE}-tasks", service)
    home, *others = regions
    table = b.add(
        "aws:dynamodb/table:Table",
        f"{SERVICE}-tasks-table",
        {
            "region": home,
            "billingMode": "PAY_PER_REQUEST",
            "hashKey": "taskId",
            "attributes": [{"name": "taskId", "type": "S"}],
            "streamEnabled": True,
            "streamViewType": "NEW_AND_OLD_IMAGES",
            "pointInTimeRecovery": {"enabled": True},
            "serverSideEncryption": {"enabled": True},
            "deletionProtectionEnabled": True,
            "ttl": {"attributeName": "expiresAt", "enabled": True},
            "replicas": [
                {
                    "regionName": region,
                    "pointInTimeRecovery": True,
                    "deletionProtectionEnabled": True,
                    "propagateTags": True,
                }
                for region in others
            ],
            "tags": TAGS,
        },
        parent=tables,
    )
    logging_role = b.add(
        "aws:iam/role:Role",
        f"{SERVICE}-apigw-logging",
        {
            "assumeRolePolicy": ASSUME_LAMBDA.replace("lambda", "apigateway"),
            "description": "Lets API Gateway write execution and access logs to CloudWatch Logs",
        },
        parent=service,
    )
    b.add(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        f"{SERVICE}-apigw-logging",
        {
            "role": logging_role.out("name"),
            "policyArn": APIGW_LOGGING_POLICY,
        },
        parent=service,
    )
    for region in regions:
        region_stack(b, region, service, table, logging_role)
    latency_routing(b, service, regions)
    return b
