"""The active-active task service: read the stack's config, build the service, export outputs."""

import pulumi
import pulumi_aws as aws
from resilient_serverless import ActiveActiveService, ActiveActiveServiceArgs, load_settings

settings = load_settings()
zone = aws.route53.get_zone_output(name=settings.hosted_zone_name, private_zone=False)
service = ActiveActiveService(
    "tasks",
    ActiveActiveServiceArgs(settings=settings, hosted_zone_id=zone.zone_id),
)

pulumi.export("url", service.url)
pulumi.export("regions", list(settings.regions))
pulumi.export("regionalEndpoints", service.regional_endpoints)
pulumi.export("tableName", service.table.table.name)
pulumi.export("queueUrls", service.queue_urls)
pulumi.export("deadLetterQueueUrls", service.dead_letter_queue_urls)
pulumi.export("estimatedFailoverSeconds", service.routing.estimated_failover_s)
pulumi.export("bookingStateMachineArns", service.state_machine_arns)
pulumi.export("bookingEventStreamArns", service.event_stream_arns)
pulumi.export("bookingEventFailureQueueUrls", service.stream_failure_queue_urls)
# Who may call: with iam, the execute-api:Invoke resources to grant per region; with apiKey, each
# client's key id per region (values stay secret: `aws apigateway get-api-key --include-value`).
if settings.api_authorization == "iam":
    pulumi.export("invokePolicyResources", service.invoke_policy_resources)
else:
    pulumi.export("apiKeyIds", service.api_key_ids)
