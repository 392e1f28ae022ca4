"""ActiveActiveService: the task app in every configured region behind one latency-routed name."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .function import Function, FunctionArgs
from .global_table import GlobalTable, GlobalTableArgs
from .iam import PolicyStatement, assume_role_policy
from .latency_routing import LatencyRouting, LatencyRoutingArgs, RegionalEndpoint
from .queue_worker import QueueWorker, QueueWorkerArgs
from .regional_api import RegionalApi, RegionalApiArgs, Route
from .settings import ServiceSettings
from .task_app import API_HANDLER, WORKER_HANDLER, task_app_archive

TASK_ROUTES = (
    Route("POST", "tasks"),
    Route("GET", "tasks/{taskId}"),
    Route("GET", "health"),
)
METRICS_NAMESPACE = "ResilientServerless"


@dataclass
class ActiveActiveServiceArgs:
    settings: ServiceSettings
    hosted_zone_id: pulumi.Input[str]
    #: The Lambda code; defaults to this project's task app.
    code: pulumi.Archive | None = None


@dataclass
class RegionDeployment:
    """What one region runs, kept for outputs and for callers that extend the service."""

    alarm_topic: aws.sns.Topic
    worker: QueueWorker
    api_function: Function
    api: RegionalApi


class ActiveActiveService(pulumi.ComponentResource):
    """One global table; per region the API, the worker, their functions and an alarm topic;
    one latency-routed name in front of all regions."""

    table: GlobalTable
    regions: dict[str, RegionDeployment]
    routing: LatencyRouting
    url: str

    def __init__(
        self,
        name: str,
        args: ActiveActiveServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("resilient-serverless:service:ActiveActiveService", name, None, opts)
        settings = args.settings
        code = args.code or task_app_archive()
        child = pulumi.ResourceOptions(parent=self)
        tags = {"service": name}

        self.table = GlobalTable(
            f"{name}-tasks",
            GlobalTableArgs(
                regions=settings.regions, hash_key="taskId", ttl_attribute="expiresAt", tags=tags
            ),
            opts=child,
        )
        logging_role_arn = (
            self._api_gateway_logging_role(name, child).arn
            if settings.manage_api_gateway_account
            else None
        )

        self.regions = {}
        for region in settings.regions:
            self.regions[region] = self._region(
                name, region, settings, args.hosted_zone_id, code, logging_role_arn, tags, child
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
                ],
                health_check_interval_s=settings.health_check_interval_s,
                health_check_failure_threshold=settings.health_check_failure_threshold,
            ),
            opts=child,
        )
        self.url = f"https://{settings.domain_name}"
        self.register_outputs(
            {
                "url": self.url,
                "tableName": self.table.table.name,
                "regionalEndpoints": self.regional_endpoints,
                "queueUrls": self.queue_urls,
            }
        )

    @property
    def regional_endpoints(self) -> dict[str, pulumi.Output[str]]:
        return {region: deployment.api.invoke_url for region, deployment in self.regions.items()}

    @property
    def queue_urls(self) -> dict[str, pulumi.Output[str]]:
        return {region: deployment.worker.queue.url for region, deployment in self.regions.items()}

    @property
    def dead_letter_queue_urls(self) -> dict[str, pulumi.Output[str]]:
        return {
            region: deployment.worker.dead_letter_queue.url
            for region, deployment in self.regions.items()
        }

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
        common_environment: dict[str, pulumi.Input[str]] = {
            "TABLE_NAME": self.table.table.name,
            "TASK_TTL_SECONDS": str(settings.task_ttl_days * 24 * 3600),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": "INFO",
        }
        shared = FunctionArgs(
            handler=API_HANDLER,
            code=code,
            log_retention_days=settings.log_retention_days,
            architecture=settings.lambda_architecture,
            runtime=settings.lambda_runtime,
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
                    timeout_s=settings.worker_timeout_s,
                    memory_mb=settings.worker_memory_mb,
                    environment={**common_environment, "POWERTOOLS_SERVICE_NAME": "tasks-worker"},
                    policy_statements=[
                        PolicyStatement(
                            sid="RecordResults",
                            actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                            resources=[table_arn],
                        )
                    ],
                    description=f"Task worker ({region})",
                ),
                batch_size=settings.worker_batch_size,
                batching_window_s=settings.worker_batching_window_s,
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
                timeout_s=settings.api_timeout_s,
                memory_mb=settings.api_memory_mb,
                reserved_concurrency=settings.api_reserved_concurrency,
                environment={
                    **common_environment,
                    "QUEUE_URL": worker.queue.url,
                    "POWERTOOLS_SERVICE_NAME": "tasks-api",
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
                ],
                description=f"Task API ({region})",
            ),
            region=region,
            opts=child,
        )

        api = RegionalApi(
            f"{prefix}-api",
            RegionalApiArgs(
                handler=api_function,
                routes=TASK_ROUTES,
                domain_name=settings.domain_name,
                zone_id=zone_id,
                throttle_burst_limit=settings.api_throttle_burst_limit,
                throttle_rate_limit=settings.api_throttle_rate_limit,
                integration_timeout_ms=settings.integration_timeout_ms,
                access_log_retention_days=settings.log_retention_days,
                cloudwatch_role_arn=logging_role_arn,
                tags=tags,
            ),
            region=region,
            opts=child,
        )
        return RegionDeployment(
            alarm_topic=alarm_topic, worker=worker, api_function=api_function, api=api
        )

    def _api_gateway_logging_role(self, name: str, child: pulumi.ResourceOptions) -> aws.iam.Role:
        """The role API Gateway uses to write stage logs (one for every region's account setting)."""
        role = aws.iam.Role(
            f"{name}-apigw-logging",
            assume_role_policy=assume_role_policy("apigateway.amazonaws.com"),
            description="Lets API Gateway write execution and access logs to CloudWatch Logs",
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-apigw-logging",
            role=role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            opts=child,
        )
        return role
