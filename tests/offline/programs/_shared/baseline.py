"""A compliant active-active skeleton in plain `pulumi_aws` (no components), shared by the example
programs: each program states one defect as an option (or adds one resource) and keeps the rest
of this skeleton, so the policy pack must find exactly that defect and nothing else.

Per region: an alarm topic; an API function behind a REGIONAL REST API (29 s integration, a
shorter function timeout, throttling, access logs, X-Ray, a custom domain); a worker consuming an
SQS queue with a DLQ (standalone redrive or inline JSON), partial batch failures and alarms on
the DLQ's depth and the queue's oldest message. Globally: a DynamoDB table with a replica in
every other region, and per region an HTTPS health check and a latency alias record.

Every function has its own log group, a role whose inline policy names exact actions on exact
ARNs (X-Ray accepts only "*"), tracing, JSON logs and the Powertools layer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

ROUTES = ("tasks", "health")
STAGE = "v1"
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
POWERTOOLS_LAYER = (
    "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
)
LOG_RETENTION_DAYS = 30
DLQ_RETENTION_S = 14 * 24 * 3600
QUEUE_RETENTION_S = 4 * 24 * 3600
WORKER_QUEUE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)

# The code of every function: a handler that answers, never deployed from here.
CODE = pulumi.AssetArchive(
    {"app.py": pulumi.StringAsset("def handler(event, context):\n    return {}\n")}
)


@dataclass
class Options:
    """The knobs the example programs turn; the defaults are the compliant stack."""

    worker_timeout_s: int = 30
    #: None: 6 x the worker's timeout + the batching window (what AWS recommends).
    queue_visibility_s: int | None = None
    batching_window_s: int = 1
    dead_letter_queue: bool = True
    #: The redrive as the queue's inline `redrivePolicy` JSON instead of aws.sqs.RedrivePolicy.
    inline_redrive: bool = False
    max_receive_count: int = 5
    report_batch_item_failures: bool = True
    dlq_alarm: bool = True
    worker_queue_actions: Sequence[str] = WORKER_QUEUE_ACTIONS
    api_timeout_s: int = 10
    integration_timeout_ms: int = 29_000
    #: None: a replica in every region but the table's own.
    table_replica_regions: Sequence[str] | None = None
    health_checks: bool = True


@dataclass
class LambdaFunction:
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    policy: aws.iam.RolePolicy


@dataclass
class Region:
    name: str
    alarm_topic: aws.sns.Topic
    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue | None
    worker: LambdaFunction
    api_function: LambdaFunction
    domain: aws.apigateway.DomainName
    health_fqdn: pulumi.Output[str]


@dataclass
class Service:
    config: pulumi.Config
    regions: dict[str, Region] = field(default_factory=dict)
    table: aws.dynamodb.Table | None = None


def statement(
    actions: Sequence[str], resources: Sequence[Any], sid: str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": list(resources),
    }
    if sid:
        entry["Sid"] = sid
    return entry


def lambda_function(
    name: str,
    region: str,
    *,
    timeout_s: int,
    statements: Sequence[Mapping[str, Any]] = (),
    environment: Mapping[str, pulumi.Input[str]] | None = None,
    memory_mb: int = 256,
) -> LambdaFunction:
    """A function with its own log group and a least-privilege role."""
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs", region=region, retention_in_days=LOG_RETENTION_DAYS
    )
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=json.dumps(
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
        ),
    )
    own = [
        statement(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [pulumi.Output.concat(log_group.arn, ":*")],
            "OwnLogGroup",
        ),
        statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"], "Tracing"),
    ]
    policy = aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=pulumi.Output.json_dumps(
            {"Version": "2012-10-17", "Statement": [*own, *statements]}
        ),
    )
    variables: dict[str, pulumi.Input[str]] = {
        "POWERTOOLS_SERVICE_NAME": name,
        "POWERTOOLS_METRICS_NAMESPACE": "OfflineExamples",
        "LOG_LEVEL": "INFO",
        **(environment or {}),
    }
    function = aws.lambda_.Function(
        f"{name}-fn",
        region=region,
        role=role.arn,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler="app.handler",
        code=CODE,
        timeout=timeout_s,
        memory_size=memory_mb,
        layers=[POWERTOOLS_LAYER.format(region=region)],
        tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="JSON", log_group=log_group.name
        ),
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
        opts=pulumi.ResourceOptions(depends_on=[policy]),
    )
    return LambdaFunction(function=function, role=role, log_group=log_group, policy=policy)


def queue_alarm(
    name: str,
    region: str,
    queue: aws.sqs.Queue,
    topic: aws.sns.Topic,
    *,
    metric: str,
    threshold: float,
    evaluation_periods: int = 1,
) -> aws.cloudwatch.MetricAlarm:
    return aws.cloudwatch.MetricAlarm(
        name,
        region=region,
        namespace="AWS/SQS",
        metric_name=metric,
        dimensions={"QueueName": queue.name},
        statistic="Maximum",
        period=60,
        evaluation_periods=evaluation_periods,
        threshold=threshold,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[topic.arn],
        ok_actions=[topic.arn],
    )


def dead_letter_queue(
    name: str, region: str, topic: aws.sns.Topic, *, alarm: bool = True
) -> aws.sqs.Queue:
    """A DLQ that keeps messages 14 days, alarming on its first message."""
    dlq = aws.sqs.Queue(
        name, region=region, message_retention_seconds=DLQ_RETENTION_S, sqs_managed_sse_enabled=True
    )
    if alarm:
        queue_alarm(
            f"{name}-depth",
            region,
            dlq,
            topic,
            metric="ApproximateNumberOfMessagesVisible",
            threshold=0,
        )
    return dlq


def worker(
    prefix: str, region: str, topic: aws.sns.Topic, table_arn: pulumi.Input[str], options: Options
) -> tuple[aws.sqs.Queue, aws.sqs.Queue | None, LambdaFunction]:
    """An SQS work queue (with its DLQ unless the options say otherwise) and its consumer."""
    dlq = (
        dead_letter_queue(f"{prefix}-dlq", region, topic, alarm=options.dlq_alarm)
        if options.dead_letter_queue
        else None
    )
    visibility = options.queue_visibility_s
    if visibility is None:
        visibility = 6 * options.worker_timeout_s + options.batching_window_s
    inline_redrive: pulumi.Input[str] | None = None
    if dlq is not None and options.inline_redrive:
        inline_redrive = pulumi.Output.json_dumps(
            {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": options.max_receive_count}
        )
    queue = aws.sqs.Queue(
        f"{prefix}-queue",
        region=region,
        visibility_timeout_seconds=visibility,
        message_retention_seconds=QUEUE_RETENTION_S,
        sqs_managed_sse_enabled=True,
        redrive_policy=inline_redrive,
    )
    if dlq is not None and not options.inline_redrive:
        aws.sqs.RedrivePolicy(
            f"{prefix}-redrive",
            region=region,
            queue_url=queue.url,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": options.max_receive_count}
            ),
        )
    if dlq is not None:
        aws.sqs.RedriveAllowPolicy(
            f"{prefix}-redrive-allow",
            region=region,
            queue_url=dlq.url,
            redrive_allow_policy=pulumi.Output.json_dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [queue.arn]}
            ),
        )
    consumer = lambda_function(
        f"{prefix}-worker",
        region,
        timeout_s=options.worker_timeout_s,
        statements=[
            statement(list(options.worker_queue_actions), [queue.arn], "ConsumeWorkQueue"),
            statement(["dynamodb:GetItem", "dynamodb:UpdateItem"], [table_arn], "RecordResults"),
        ],
        memory_mb=512,
    )
    aws.lambda_.EventSourceMapping(
        f"{prefix}-mapping",
        region=region,
        event_source_arn=queue.arn,
        function_name=consumer.function.arn,
        batch_size=10,
        maximum_batching_window_in_seconds=options.batching_window_s,
        function_response_types=["ReportBatchItemFailures"]
        if options.report_batch_item_failures
        else None,
        scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=10),
        opts=pulumi.ResourceOptions(depends_on=[consumer.policy]),
    )
    queue_alarm(
        f"{prefix}-oldest-message",
        region,
        queue,
        topic,
        metric="ApproximateAgeOfOldestMessage",
        threshold=600,
        evaluation_periods=5,
    )
    return queue, dlq, consumer


def _api(
    prefix: str,
    region: str,
    function: LambdaFunction,
    domain_name: str,
    zone_id: pulumi.Input[str],
    options: Options,
) -> tuple[aws.apigateway.DomainName, pulumi.Output[str]]:
    api = aws.apigateway.RestApi(
        f"{prefix}-api",
        region=region,
        endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
    )
    routes: list[pulumi.Resource] = []
    for path in ROUTES:
        resource = aws.apigateway.Resource(
            f"{prefix}-{path}",
            region=region,
            rest_api=api.id,
            parent_id=api.root_resource_id,
            path_part=path,
        )
        method = aws.apigateway.Method(
            f"{prefix}-{path}-any",
            region=region,
            rest_api=api.id,
            resource_id=resource.id,
            http_method="ANY",
            authorization="NONE",
        )
        integration = aws.apigateway.Integration(
            f"{prefix}-{path}-integration",
            region=region,
            rest_api=api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=function.function.invoke_arn,
            timeout_milliseconds=options.integration_timeout_ms,
        )
        routes += [method, integration]
    aws.lambda_.Permission(
        f"{prefix}-invoke",
        region=region,
        action="lambda:InvokeFunction",
        function=function.function.name,
        principal="apigateway.amazonaws.com",
        source_arn=pulumi.Output.concat(api.execution_arn, "/*/*"),
    )
    deployment = aws.apigateway.Deployment(
        f"{prefix}-deployment",
        region=region,
        rest_api=api.id,
        triggers={"routes": ",".join(ROUTES)},
        opts=pulumi.ResourceOptions(depends_on=routes),
    )
    access_logs = aws.cloudwatch.LogGroup(
        f"{prefix}-access-logs", region=region, retention_in_days=LOG_RETENTION_DAYS
    )
    stage = aws.apigateway.Stage(
        f"{prefix}-stage",
        region=region,
        rest_api=api.id,
        deployment=deployment.id,
        stage_name=STAGE,
        xray_tracing_enabled=True,
        access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
            destination_arn=access_logs.arn,
            format=json.dumps({"requestId": "$context.requestId", "status": "$context.status"}),
        ),
    )
    aws.apigateway.MethodSettings(
        f"{prefix}-throttling",
        region=region,
        rest_api=api.id,
        stage_name=stage.stage_name,
        method_path="*/*",
        settings=aws.apigateway.MethodSettingsSettingsArgs(
            throttling_burst_limit=200,
            throttling_rate_limit=100,
            metrics_enabled=True,
            logging_level="ERROR",
        ),
    )
    certificate = aws.acm.Certificate(
        f"{prefix}-cert", region=region, domain_name=domain_name, validation_method="DNS"
    )
    option = certificate.domain_validation_options[0]
    validation_record = aws.route53.Record(
        f"{prefix}-cert-validation",
        zone_id=zone_id,
        name=option.resource_record_name,
        type=option.resource_record_type,
        records=[option.resource_record_value],
        ttl=300,
        allow_overwrite=True,
    )
    validated = aws.acm.CertificateValidation(
        f"{prefix}-cert-issued",
        region=region,
        certificate_arn=certificate.arn,
        validation_record_fqdns=[validation_record.fqdn],
    )
    domain = aws.apigateway.DomainName(
        f"{prefix}-domain",
        region=region,
        domain_name=domain_name,
        regional_certificate_arn=validated.certificate_arn,
        endpoint_configuration=aws.apigateway.DomainNameEndpointConfigurationArgs(types="REGIONAL"),
        security_policy="TLS_1_2",
    )
    aws.apigateway.BasePathMapping(
        f"{prefix}-mapping",
        region=region,
        domain_name=domain.domain_name,
        rest_api=api.id,
        stage_name=stage.stage_name,
    )
    return domain, pulumi.Output.concat(api.id, ".execute-api.", region, ".amazonaws.com")


def _table(name: str, regions: Sequence[str], options: Options) -> aws.dynamodb.Table:
    home, *others = regions
    replicas = (
        others if options.table_replica_regions is None else list(options.table_replica_regions)
    )
    return aws.dynamodb.Table(
        name,
        region=home,
        billing_mode="PAY_PER_REQUEST",
        hash_key="taskId",
        attributes=[aws.dynamodb.TableAttributeArgs(name="taskId", type="S")],
        stream_enabled=True,
        stream_view_type="NEW_AND_OLD_IMAGES",
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
        deletion_protection_enabled=True,
        ttl=aws.dynamodb.TableTtlArgs(attribute_name="expiresAt", enabled=True),
        replicas=[
            aws.dynamodb.TableReplicaArgs(
                region_name=region, point_in_time_recovery=True, deletion_protection_enabled=True
            )
            for region in replicas
        ],
    )


def table_arn_in(table: aws.dynamodb.Table, region: str) -> pulumi.Output[str]:
    return table.name.apply(lambda name: f"arn:aws:dynamodb:{region}:123456789012:table/{name}")


def build(options: Options | None = None) -> Service:
    """The whole skeleton, in every region of the stack's `regions` config."""
    options = options or Options()
    config = pulumi.Config()
    regions: list[str] = config.require_object("regions")
    domain_name = config.require("domainName")
    zone = aws.route53.get_zone(name=config.require("hostedZoneName"), private_zone=False)
    service = Service(config=config)
    service.table = _table("tasks", regions, options)

    for region in regions:
        prefix = f"svc-{region}"
        topic = aws.sns.Topic(f"{prefix}-alarms", region=region)
        table_arn = table_arn_in(service.table, region)
        queue, dlq, consumer = worker(prefix, region, topic, table_arn, options)
        api_function = lambda_function(
            f"{prefix}-api",
            region,
            timeout_s=options.api_timeout_s,
            statements=[
                statement(["dynamodb:GetItem", "dynamodb:PutItem"], [table_arn], "Tasks"),
                statement(["sqs:SendMessage"], [queue.arn], "Enqueue"),
            ],
            environment={"TABLE_NAME": service.table.name, "QUEUE_URL": queue.url},
        )
        domain, health_fqdn = _api(prefix, region, api_function, domain_name, zone.zone_id, options)
        service.regions[region] = Region(
            name=region,
            alarm_topic=topic,
            queue=queue,
            dead_letter_queue=dlq,
            worker=consumer,
            api_function=api_function,
            domain=domain,
            health_fqdn=health_fqdn,
        )

    for region, deployment in service.regions.items():
        health_check_id: pulumi.Input[str] | None = None
        if options.health_checks:
            health_check_id = aws.route53.HealthCheck(
                f"svc-{region}-health",
                type="HTTPS",
                fqdn=deployment.health_fqdn,
                port=443,
                resource_path=f"/{STAGE}/health",
                request_interval=30,
                failure_threshold=3,
                measure_latency=True,
            ).id
        aws.route53.Record(
            f"svc-{region}-latency",
            zone_id=zone.zone_id,
            name=domain_name,
            type="A",
            set_identifier=region,
            latency_routing_policies=[aws.route53.RecordLatencyRoutingPolicyArgs(region=region)],
            health_check_id=health_check_id,
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=deployment.domain.regional_domain_name,
                    zone_id=deployment.domain.regional_zone_id,
                    evaluate_target_health=True,
                )
            ],
        )
    pulumi.export("url", f"https://{domain_name}")
    return service


# -- building blocks for the examples that add an event source of their own ------------------

KINESIS_CONSUMER_ACTIONS = (
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:ListShards",
    "kinesis:ListStreams",
)


def kinesis_stream(name: str, region: str) -> aws.kinesis.Stream:
    """An encrypted on-demand stream that keeps records a day."""
    return aws.kinesis.Stream(
        name,
        region=region,
        retention_period=24,
        encryption_type="KMS",
        kms_key_id="alias/aws/kinesis",
        stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(stream_mode="ON_DEMAND"),
    )


def iterator_age_alarm(
    name: str,
    region: str,
    topic: aws.sns.Topic,
    *,
    function: aws.lambda_.Function | None = None,
    stream: aws.kinesis.Stream | None = None,
) -> aws.cloudwatch.MetricAlarm:
    """An alarm on how far a stream consumer is behind: Lambda's IteratorAge of the function,
    or Kinesis' GetRecords.IteratorAgeMilliseconds of the stream, above five minutes."""
    if function is not None:
        namespace, metric = "AWS/Lambda", "IteratorAge"
        dimensions: dict[str, pulumi.Input[str]] = {"FunctionName": function.name}
    elif stream is not None:
        namespace, metric = "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"
        dimensions = {"StreamName": stream.name}
    else:
        raise ValueError("iterator_age_alarm: give the consuming function or the stream")
    return aws.cloudwatch.MetricAlarm(
        name,
        region=region,
        namespace=namespace,
        metric_name=metric,
        dimensions=dimensions,
        statistic="Maximum",
        period=60,
        evaluation_periods=1,
        threshold=300_000,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[topic.arn],
        ok_actions=[topic.arn],
    )


def failure_queue(name: str, region: str, topic: aws.sns.Topic) -> aws.sqs.Queue:
    """Where a stream mapping or an async invocation parks what it gave up on: kept 14 days
    and alarmed on like any DLQ."""
    return dead_letter_queue(name, region, topic)


def guarded_stream_consumer(
    name: str, region: str, topic: aws.sns.Topic
) -> tuple[aws.kinesis.Stream, LambdaFunction]:
    """A Kinesis stream and a consumer that survives poison records: its mapping bisects a
    failing batch, retries a bounded number of times, bounds the record age and parks what it
    skips in an alarmed queue. Whether anyone watches the iterator age is the caller's choice."""
    stream = kinesis_stream(name, region)
    skipped = failure_queue(f"{name}-skipped", region, topic)
    consumer = lambda_function(
        f"{name}-consumer",
        region,
        timeout_s=30,
        statements=[
            statement(KINESIS_CONSUMER_ACTIONS, [stream.arn], "ReadStream"),
            statement(["sqs:SendMessage"], [skipped.arn], "ParkSkippedRecords"),
        ],
    )
    aws.lambda_.EventSourceMapping(
        f"{name}-mapping",
        region=region,
        event_source_arn=stream.arn,
        function_name=consumer.function.arn,
        starting_position="LATEST",
        batch_size=100,
        function_response_types=["ReportBatchItemFailures"],
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=3,
        maximum_record_age_in_seconds=3600,
        destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
            on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                destination_arn=skipped.arn
            )
        ),
        opts=pulumi.ResourceOptions(depends_on=[consumer.policy]),
    )
    return stream, consumer


def sns_subscribed_function(
    name: str, region: str, *, statements: Sequence[Mapping[str, Any]] = ()
) -> LambdaFunction:
    """A function that an SNS topic invokes asynchronously (topic, permission, subscription)."""
    topic = aws.sns.Topic(name, region=region)
    consumer = lambda_function(f"{name}-consumer", region, timeout_s=30, statements=statements)
    aws.lambda_.Permission(
        f"{name}-invoke",
        region=region,
        action="lambda:InvokeFunction",
        function=consumer.function.name,
        principal="sns.amazonaws.com",
        source_arn=topic.arn,
    )
    aws.sns.TopicSubscription(
        f"{name}-subscription",
        region=region,
        topic=topic.arn,
        protocol="lambda",
        endpoint=consumer.function.arn,
    )
    return consumer
