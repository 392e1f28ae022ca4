"""ActiveActiveService: the task app in every configured region behind one latency-routed name."""

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds

from .api_access import uses_api_keys, uses_signatures
from .function import Function, FunctionArgs
from .global_table import GlobalTable, GlobalTableArgs
from .iam import PolicyStatement, assume_role_policy
from .inputs import as_args, schema_args
from .latency_routing import LatencyRouting, LatencyRoutingArgs, RegionalEndpoint
from .outputs import declared_outputs
from .queue_worker import QueueWorker, QueueWorkerArgs, processing_window_s
from .regional_api import (
    HandledRoutes,
    RegionalApi,
    RegionalApiArgs,
    Route,
    SharedCertificateValidation,
)
from .saga import Saga, SagaArgs
from .settings import ServiceSettings, validate_settings
from .stream_consumer import StreamConsumer, StreamConsumerArgs
from .task_app import (
    API_HANDLER,
    SAGA_API_HANDLER,
    STREAM_CONSUMER_HANDLER,
    WORKER_HANDLER,
    task_app_archive,
)
from .tokens import component_type, keep_previous_token

#: The tag every taggable resource of a retiring region carries (value "true"): the pack reads a
#: region whose APIs carry it as retiring (see thresholds.RETIRING_TAG_KEY).
RETIRING_TAG_KEY = thresholds.RETIRING_TAG_KEY

TASK_ROUTES = (
    Route("POST", "tasks"),
    Route("GET", "tasks/{taskId}"),
    Route("GET", "health"),
)
#: Served by the bookings function: start the booking saga, read a booking's status.
BOOKING_ROUTES = (
    Route("POST", "bookings"),
    Route("GET", "bookings/{bookingId}"),
)
#: The stream consumer works records one by one with a table write each: a minute covers a
#: batch of 100 with the client's retries.
STREAM_CONSUMER_TIMEOUT_S = 60
METRICS_NAMESPACE = "ResilientServerless"


@schema_args
@dataclass
class ActiveActiveServiceArgs:
    """The service's settings and where its name lives."""

    settings: ServiceSettings
    """The service's settings (the program reads them from the stack's config)."""
    hosted_zone_id: pulumi.Input[str]
    """The Route53 hosted zone of `settings.domain_name`."""
    code: pulumi.Archive | None = None
    """The Lambda code; defaults to this project's task app."""


@dataclass
class RegionDeployment:
    """What one region runs, kept for outputs and for callers that extend the service."""

    alarm_topic: aws.sns.Topic
    worker: QueueWorker
    api_function: Function
    api: RegionalApi
    #: The booking saga, the function that starts and reads it, and the booking-events stream.
    saga: Saga
    bookings_function: Function
    events: StreamConsumer
    #: The region's circuit-breaker state, shared by every container of the task functions.
    breaker_table: aws.dynamodb.Table | None = None


class ActiveActiveService(pulumi.ComponentResource):
    """One global table; per region the API, the worker, their functions and an alarm topic;
    one latency-routed name in front of all regions."""

    url: str
    """The latency-routed URL clients call."""
    table_name: pulumi.Output[str]
    """The global table's name."""
    regional_endpoints: dict[str, pulumi.Output[str]]
    """Each region's invoke URL on its own endpoint."""
    queue_urls: dict[str, pulumi.Output[str]]
    """Each region's work queue."""
    dead_letter_queue_urls: dict[str, pulumi.Output[str]]
    """Each region's DLQ."""
    state_machine_arns: dict[str, pulumi.Output[str]]
    """Each region's booking saga."""
    event_stream_arns: dict[str, pulumi.Output[str]]
    """Each region's booking-events stream."""
    stream_failure_queue_urls: dict[str, pulumi.Output[str]]
    """Where each region's stream consumer points to what it skipped (for the re-hydration
    tool)."""
    estimated_failover_seconds: int
    """Nominal seconds from a region failing to its withdrawal from DNS."""
    invoke_policy_resources: dict[str, pulumi.Output[list[str]]]
    """With `iam` or `iam+apiKey` authorization: per region, the `execute-api:Invoke` resources
    of the protected routes, what a caller's IAM policy must allow in every region it may be
    routed to."""
    api_key_ids: dict[str, pulumi.Output[dict[str, str]]]
    """With `apiKey` or `iam+apiKey` authorization: per region, each client's key id (ids only:
    read a region's value with `aws apigateway get-api-key --api-key <id> --include-value
    --region <region>`; each region's differs unless the client is sharedAcrossRegions)."""

    def __init__(
        self,
        name: str,
        args: ActiveActiveServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            component_type("ActiveActiveService"),
            name,
            None,
            keep_previous_token("ActiveActiveService", opts),
        )
        args = as_args(ActiveActiveServiceArgs, args)
        validate_settings(args.settings, "ActiveActiveServiceArgs.settings")
        settings = args.settings
        code = args.code or task_app_archive()
        child = pulumi.ResourceOptions(parent=self)
        tags = {"service": name}

        home = settings.home_region
        strong = settings.table_consistency == "strong"
        self.table = GlobalTable(
            f"{name}-tasks",
            GlobalTableArgs(
                regions=settings.regions,
                # Named, not implied by the order of `regions`: reordering them moves nothing.
                home_region=home,
                hash_key="taskId",
                # A strongly consistent table has no TTL: expired tasks stay, and the handlers'
                # check of expiresAt on read (TaskRecord.is_expired) is what hides them.
                ttl_attribute=None if strong else "expiresAt",
                # Their replicas lose deletion protection, so the next update can remove them.
                retiring_regions=settings.retiring_regions,
                consistency=settings.table_consistency,
                witness_region=settings.table_witness_region,
                tags=tags,
            ),
            opts=child,
        )
        logging_role_arn = (
            self._api_gateway_logging_role(name, child).arn
            if settings.manage_api_gateway_account
            else None
        )

        # One validation record for every region's certificate of the domain (ACM asks for the
        # same CNAME in each), written from the table region's, which is built first and cannot
        # retire.
        self.certificate_validation = SharedCertificateValidation(
            f"{name}-certificate-validation", args.hosted_zone_id, opts=child
        )
        self.regions: dict[str, RegionDeployment] = {}
        for region in (home, *(region for region in settings.regions if region != home)):
            retiring = region in settings.retiring_regions
            self.regions[region] = self._region(
                name,
                region,
                settings,
                args.hosted_zone_id,
                code,
                logging_role_arn,
                {**tags, RETIRING_TAG_KEY: "true"} if retiring else tags,
                child,
            )

        self.routing = LatencyRouting(
            f"{name}-routing",
            LatencyRoutingArgs(
                zone_id=args.hosted_zone_id,
                record_name=settings.domain_name,
                endpoints=[
                    RegionalEndpoint(
                        region=region,
                        alias_name=deployment.api.domain.regional_domain_name,
                        alias_zone_id=deployment.api.domain.regional_zone_id,
                        health_check_fqdn=deployment.api.health_check_fqdn,
                        health_check_path=deployment.api.health_check_path,
                    )
                    for region, deployment in self.regions.items()
                    # A retiring region keeps running but leaves DNS: its traffic drains.
                    if region in settings.serving_regions
                ],
                health_check_interval_s=settings.health_check_interval_seconds,
                health_check_failure_threshold=settings.health_check_failure_threshold,
                record_type=settings.dns_record_type,
                record_ttl_s=settings.dns_ttl_seconds,
            ),
            # A region added to `regions` enters DNS only once the table has its replica.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.table]),
        )
        self.url = f"https://{settings.domain_name}"
        self.table_name = self.table.table.name
        self.estimated_failover_seconds = self.routing.estimated_failover_s
        deployments = self.regions.items()
        self.regional_endpoints = {region: each.api.invoke_url for region, each in deployments}
        self.queue_urls = {region: each.worker.queue.url for region, each in deployments}
        self.dead_letter_queue_urls = {
            region: each.worker.dead_letter_queue.url for region, each in deployments
        }
        self.state_machine_arns = {
            region: each.saga.state_machine.arn for region, each in deployments
        }
        self.event_stream_arns = {region: each.events.stream.arn for region, each in deployments}
        self.stream_failure_queue_urls = {
            region: each.events.failures.url for region, each in deployments
        }
        signed = uses_signatures(settings.api_authorization)
        keyed = uses_api_keys(settings.api_authorization)
        self.invoke_policy_resources = (
            {region: each.api.invoke_policy_resources for region, each in deployments}
            if signed
            else {}
        )
        self.api_key_ids = (
            {region: each.api.api_key_ids for region, each in deployments} if keyed else {}
        )
        self.register_outputs(declared_outputs(self))

    def _region(
        self,
        name: str,
        region: str,
        settings: ServiceSettings,
        zone_id: pulumi.Input[str],
        code: pulumi.Archive,
        logging_role_arn: pulumi.Input[str] | None,
        tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> RegionDeployment:
        prefix = f"{name}-{region}"
        table_arn = self.table.arn_in(region)
        breaker_table = self._breaker_table(prefix, region, tags, child)
        common_environment: dict[str, pulumi.Input[str]] = {
            "TABLE_NAME": self.table.table.name,
            "TASK_TTL_SECONDS": str(settings.task_ttl_days * 24 * 3600),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": "INFO",
            "BREAKER_TABLE_NAME": breaker_table.name,
            "BREAKER_FAILURE_THRESHOLD": str(settings.circuit_breaker_failure_threshold),
            "BREAKER_OPEN_SECONDS": str(settings.circuit_breaker_open_seconds),
            "BREAKER_STORE_FAILURE": settings.circuit_breaker_store_failure,
        }
        # The breaker's own reads and conditional writes, on this region's breaker table only.
        breaker_access = PolicyStatement(
            sid="CircuitBreakerState",
            actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
            resources=[breaker_table.arn],
        )
        task_statements = [breaker_access]
        if settings.fault_injection_allowed:
            faults = self._fault_parameter(name, prefix, region, tags, child)
            common_environment["FAULT_INJECTION_ALLOWED"] = "true"
            common_environment["FAULT_INJECTION_PARAMETER"] = faults.name
            task_statements.append(
                PolicyStatement(
                    sid="ReadFaultInjection",
                    actions=["ssm:GetParameter"],
                    resources=[faults.arn],
                )
            )
        shared = FunctionArgs(
            handler=API_HANDLER,
            code=code,
            log_retention_days=settings.log_retention_days,
            architecture=settings.lambda_architecture,
            runtime=settings.lambda_runtime,
            powertools_version=settings.powertools_version,
            powertools_layer_version=settings.powertools_layer_version,
            tags=tags,
        )

        alarm_topic = aws.sns.Topic(f"{prefix}-alarms", region=region, tags=tags, opts=child)
        if settings.alarm_email:
            aws.sns.TopicSubscription(
                f"{prefix}-alarms-email",
                region=region,
                topic=alarm_topic.arn,
                protocol="email",
                endpoint=settings.alarm_email,
                opts=child,
            )

        worker = QueueWorker(
            f"{prefix}-worker",
            QueueWorkerArgs(
                consumer=dataclasses.replace(
                    shared,
                    handler=WORKER_HANDLER,
                    timeout_s=settings.worker_timeout_seconds,
                    memory_mb=settings.worker_memory_mb,
                    environment={
                        **common_environment,
                        "POWERTOOLS_SERVICE_NAME": "tasks-worker",
                        # On a record's last receive the worker marks its task FAILED.
                        "MAX_RECEIVE_COUNT": str(settings.max_receive_count),
                    },
                    policy_statements=[
                        PolicyStatement(
                            sid="RecordResults",
                            actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                            resources=[table_arn],
                        ),
                        *task_statements,
                    ],
                    description=f"Task worker ({region})",
                ),
                batch_size=settings.worker_batch_size,
                batching_window_s=settings.worker_batching_window_seconds,
                max_concurrency=settings.worker_max_concurrency,
                max_receive_count=settings.max_receive_count,
                alarm_action_arn=alarm_topic.arn,
            ),
            region=region,
            opts=child,
        )

        api_function = Function(
            f"{prefix}-api",
            dataclasses.replace(
                shared,
                timeout_s=settings.api_timeout_seconds,
                memory_mb=settings.api_memory_mb,
                reserved_concurrency=settings.api_reserved_concurrency,
                environment={
                    **common_environment,
                    "QUEUE_URL": worker.queue.url,
                    "POWERTOOLS_SERVICE_NAME": "tasks-api",
                    # A task still PENDING after this reads FAILED, even if the worker's FAILED
                    # mark was refused.
                    "TASK_PROCESSING_WINDOW_SECONDS": str(
                        processing_window_s(settings.max_receive_count, worker.visibility_timeout_s)
                    ),
                },
                policy_statements=[
                    PolicyStatement(
                        sid="SubmitAndReadTasks",
                        actions=[
                            "dynamodb:GetItem",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                        ],
                        resources=[table_arn],
                    ),
                    PolicyStatement(
                        sid="EnqueueTasks",
                        actions=["sqs:SendMessage", "sqs:GetQueueAttributes"],
                        resources=[worker.queue.arn],
                    ),
                    *task_statements,
                ],
                description=f"Task API ({region})",
            ),
            region=region,
            opts=child,
        )

        saga = Saga(
            f"{prefix}-saga",
            SagaArgs(
                log_retention_days=settings.log_retention_days,
                alarm_action_arn=alarm_topic.arn,
                tags=tags,
                # A retiring region's inventory table must be deletable by the next change.
                deletion_protection=region not in settings.retiring_regions,
            ),
            region=region,
            opts=child,
        )
        observability: dict[str, pulumi.Input[str]] = {
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": "INFO",
        }
        bookings_function = Function(
            f"{prefix}-bookings-api",
            dataclasses.replace(
                shared,
                handler=SAGA_API_HANDLER,
                timeout_s=settings.api_timeout_seconds,
                memory_mb=settings.api_memory_mb,
                environment={
                    **observability,
                    "STATE_MACHINE_ARN": saga.state_machine.arn,
                    "POWERTOOLS_SERVICE_NAME": "bookings-api",
                },
                policy_statements=[
                    PolicyStatement(
                        sid="StartBookings",
                        actions=["states:StartExecution"],
                        resources=[saga.state_machine.arn],
                    ),
                    PolicyStatement(
                        sid="ReadBookings",
                        actions=["states:DescribeExecution"],
                        resources=[saga.execution_arns],
                    ),
                ],
                description=f"Bookings API ({region})",
            ),
            region=region,
            opts=child,
        )
        events = StreamConsumer(
            f"{prefix}-events",
            StreamConsumerArgs(
                consumer=dataclasses.replace(
                    shared,
                    handler=STREAM_CONSUMER_HANDLER,
                    timeout_s=STREAM_CONSUMER_TIMEOUT_S,
                    environment={
                        **observability,
                        "TABLE_NAME": saga.table.name,
                        "POWERTOOLS_SERVICE_NAME": "booking-events",
                    },
                    policy_statements=[
                        PolicyStatement(
                            sid="RecordEvents",
                            actions=["dynamodb:PutItem"],
                            resources=[saga.table.arn],
                        )
                    ],
                    description=f"Booking events consumer ({region})",
                ),
                retention_hours=settings.stream_retention_hours,
                shard_count=settings.stream_shard_count,
                alarm_action_arn=alarm_topic.arn,
            ),
            region=region,
            opts=child,
        )

        api = RegionalApi(
            f"{prefix}-api",
            RegionalApiArgs(
                handler=api_function.target(),
                routes=TASK_ROUTES,
                more_handlers=[
                    HandledRoutes("bookings", bookings_function.target(), BOOKING_ROUTES)
                ],
                domain_name=settings.domain_name,
                zone_id=zone_id,
                throttle_burst_limit=settings.api_throttle_burst_limit,
                throttle_rate_limit=settings.api_throttle_rate_limit,
                integration_timeout_ms=settings.integration_timeout_ms,
                access_log_retention_days=settings.log_retention_days,
                cloudwatch_role_arn=logging_role_arn,
                certificate_validation=self.certificate_validation,
                alarm_action_arn=alarm_topic.arn,
                authorization=settings.api_authorization,
                api_clients=settings.api_clients,
                api_key_values=self._shared_key_values(settings),
                tags=tags,
            ),
            region=region,
            opts=child,
        )
        return RegionDeployment(
            alarm_topic=alarm_topic,
            worker=worker,
            api_function=api_function,
            api=api,
            saga=saga,
            bookings_function=bookings_function,
            events=events,
            breaker_table=breaker_table,
        )

    def _shared_key_values(self, settings: ServiceSettings) -> dict[str, pulumi.Input[str]]:
        """The key value of each client `sharedAcrossRegions` in the first region built, the
        table region (API Gateway generated it), for its key in every other region. Every other
        client's key has a value of its own in each region: read in one region, it admits
        nobody in another. Empty while the first region is being built."""
        first = next(iter(self.regions.values()), None)
        if first is None:
            return {}
        shared = {client.name for client in settings.api_clients if client.shared_across_regions}
        # The value is secret (pulumi-aws marks it so): it reaches the other key as a secret.
        return {client: key.value for client, key in first.api.api_keys.items() if client in shared}

    def _fault_parameter(
        self,
        name: str,
        prefix: str,
        region: str,
        tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> aws.ssm.Parameter:
        """Where operators switch faults on and off (only in a stack that allows them). Created
        disabled; later changes are not reverted by the next deployment."""
        return aws.ssm.Parameter(
            f"{prefix}-faults",
            region=region,
            name=f"/{name}/{region}/fault-injection",
            type="String",
            value='{"enabled": false}',
            description="Failure injection for the task functions (see handlers/fault_injection.py)",
            tags=tags,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(ignore_changes=["value"])
            ),
        )

    def _breaker_table(
        self, prefix: str, region: str, tags: dict[str, str], child: pulumi.ResourceOptions
    ) -> aws.dynamodb.Table:
        """One item per circuit breaker, shared by the region's containers.

        Regional by design (tagged for the pack's dynamodb-global-table rule): a breaker
        describes this region's dependencies, and replicating it would let one region's outage
        open the other regions' circuits. Its items expire a day after their last change.
        """
        return aws.dynamodb.Table(
            f"{prefix}-breakers",
            region=region,
            billing_mode="PAY_PER_REQUEST",
            hash_key="breakerId",
            attributes=[aws.dynamodb.TableAttributeArgs(name="breakerId", type="S")],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name="expiresAt", enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            tags={**tags, "resilience:single-region": "true"},
            opts=child,
        )

    def _api_gateway_logging_role(self, name: str, child: pulumi.ResourceOptions) -> aws.iam.Role:
        """The role API Gateway uses to write stage logs (one for every region's account setting).

        Retained on delete, with its policy attachment, like the account setting that points at
        it (RegionalApi's `aws.apigateway.Account`, retained because it is account-wide): the
        setting outlives the stack (destroy, a region removed, manageApiGatewayAccount turned
        off), and must not point at a deleted role, or every API of the account in that region
        loses its execution logs.
        """
        kept = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=True))
        role = aws.iam.Role(
            f"{name}-apigw-logging",
            # No source conditions: see UNCONDITIONED_PRINCIPALS for why.
            assume_role_policy=assume_role_policy("apigateway.amazonaws.com"),
            description="Lets API Gateway write execution and access logs to CloudWatch Logs",
            opts=kept,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-apigw-logging",
            role=role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            opts=kept,
        )
        return role
