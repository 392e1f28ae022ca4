"""What AWS (through the provider) reports for an optional property the program left unset.

A property the pulumi-aws SDK declares `Output[T]` (not `Optional`) is computed: when the program
leaves it out, the provider reads AWS's value back after creating the resource. The known-outputs
shapes (`--mode update`, `--mode outputs-only`) must show that value, not the type's empty one:
an HTTP API integration without `timeout_milliseconds` waits 30 000 ms, not 0.

One row per (resource type, property): the value AWS fills, and where that is documented. A row
may hold for some resources of the type only (`when`: an input that contains a text), e.g. the
batch size of an event source mapping depends on its source. The rules' own declared reads
(`READS` in each rule module) are checked against this table by the tests: a computed property a
rule reads has a row here, or is listed in `REQUIRED_INPUTS` / `DERIVED_OUTPUTS` with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from resilience_policies import thresholds

_LAMBDA_ESM_API: Final[str] = (
    "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
)


@dataclass(frozen=True)
class ProviderDefault:
    """One value AWS fills in for an unset optional property."""

    #: The resource type token (`aws:sqs/queue:Queue`).
    type: str
    #: The property's engine name (camelCase), as the state reports it.
    path: str
    value: Any
    #: Where the value is documented: an AWS API reference URL or a provider schema file.
    source: str
    #: (input, text): the row holds only when that input is a string containing the text.
    when: tuple[str, str] | None = None

    def applies(self, inputs: Mapping[str, Any]) -> bool:
        if self.when is None:
            return True
        key, needle = self.when
        given = inputs.get(key)
        return isinstance(given, str) and needle in given


PROVIDER_DEFAULTS: Final[tuple[ProviderDefault, ...]] = (
    ProviderDefault(
        "aws:apigatewayv2/integration:Integration",
        "timeoutMilliseconds",
        thresholds.HTTP_API_INTEGRATION_TIMEOUT_MS,
        "https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/"
        "apis-apiid-integrations.html (timeoutInMillis: 30 000 ms for HTTP APIs, 29 000 for "
        "WebSocket APIs); terraform-provider-aws internal/service/apigatewayv2/integration.go "
        "timeout_milliseconds Optional+Computed",
    ),
    ProviderDefault(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "maximumRecordAgeInSeconds",
        -1,
        f"{_LAMBDA_ESM_API}#lambda-CreateEventSourceMapping-request-MaximumRecordAgeInSeconds "
        "(default -1, infinite)",
    ),
    ProviderDefault(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "maximumRetryAttempts",
        -1,
        f"{_LAMBDA_ESM_API}#lambda-CreateEventSourceMapping-request-MaximumRetryAttempts "
        "(default -1, infinite)",
    ),
    ProviderDefault(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "batchSize",
        thresholds.SQS_DEFAULT_BATCH_SIZE,
        f"{_LAMBDA_ESM_API}#lambda-CreateEventSourceMapping-request-BatchSize (SQS: 10)",
        when=("eventSourceArn", ":sqs:"),
    ),
    ProviderDefault(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "batchSize",
        thresholds.STREAM_DEFAULT_BATCH_SIZE,
        f"{_LAMBDA_ESM_API}#lambda-CreateEventSourceMapping-request-BatchSize (Kinesis: 100)",
        when=("eventSourceArn", ":kinesis:"),
    ),
    ProviderDefault(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "batchSize",
        thresholds.STREAM_DEFAULT_BATCH_SIZE,
        f"{_LAMBDA_ESM_API}#lambda-CreateEventSourceMapping-request-BatchSize "
        "(DynamoDB Streams: 100)",
        when=("eventSourceArn", ":dynamodb:"),
    ),
    ProviderDefault(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "state",
        "Enabled",
        "https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html "
        "(State; a mapping created enabled reports Enabled)",
    ),
    ProviderDefault(
        "aws:sqs/queue:Queue",
        "sqsManagedSseEnabled",
        True,
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
        "sqs-server-side-encryption.html (SSE-SQS is on by default for new queues)",
    ),
    ProviderDefault(
        "aws:sqs/queue:Queue",
        "kmsDataKeyReusePeriodSeconds",
        300,
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/"
        "API_SetQueueAttributes.html (KmsDataKeyReusePeriodSeconds, default 300)",
    ),
    ProviderDefault(
        "aws:sqs/queue:Queue",
        "redrivePolicy",
        "",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/"
        "API_GetQueueAttributes.html (RedrivePolicy is returned only when set)",
    ),
    ProviderDefault(
        "aws:sqs/queue:Queue",
        "redriveAllowPolicy",
        "",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/"
        "API_GetQueueAttributes.html (RedriveAllowPolicy is returned only when set; unset, any "
        "source queue may use the queue: redrivePermission allowAll)",
    ),
    ProviderDefault(
        "aws:lambda/function:Function",
        "tracingConfig",
        {"mode": "PassThrough"},
        "https://docs.aws.amazon.com/lambda/latest/api/API_TracingConfig.html "
        "(Mode, default PassThrough)",
    ),
    ProviderDefault(
        "aws:dynamodb/table:Table",
        "streamViewType",
        "",
        "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
        "API_StreamSpecification.html (no view type without a stream)",
    ),
    ProviderDefault(
        "aws:dynamodb/table:Table",
        "pointInTimeRecovery",
        {"enabled": False, "recoveryPeriodInDays": 0},
        "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
        "API_PointInTimeRecoveryDescription.html (PITR is off until enabled)",
    ),
    ProviderDefault(
        "aws:dynamodb/table:Table",
        "ttl",
        {"enabled": False, "attributeName": ""},
        "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
        "API_TimeToLiveDescription.html (TTL is DISABLED until enabled)",
    ),
    ProviderDefault(
        "aws:dynamodb/table:Table",
        "serverSideEncryption",
        {"enabled": False, "kmsKeyArn": ""},
        "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
        "API_SSESpecification.html (Enabled false: encrypted with an AWS owned key)",
    ),
    ProviderDefault(
        "aws:dynamodb/table:Table",
        "globalTableWitness",
        None,
        "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
        "API_TableDescription.html (GlobalTableWitnesses: only a multi-Region strongly "
        "consistent table configured with a witness has one); terraform-provider-aws "
        "internal/service/dynamodb/table.go global_table_witness Optional+Computed",
    ),
    ProviderDefault(
        "aws:dynamodb/tableReplica:TableReplica",
        "deletionProtectionEnabled",
        False,
        "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
        "API_CreateTable.html#DDB-CreateTable-request-DeletionProtectionEnabled (default off)",
    ),
    ProviderDefault(
        "aws:route53/healthCheck:HealthCheck",
        "failureThreshold",
        3,
        "https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html "
        "(FailureThreshold, default 3)",
    ),
    ProviderDefault(
        "aws:sfn/stateMachine:StateMachine",
        "loggingConfiguration",
        {"level": "OFF", "includeExecutionData": False, "logDestination": ""},
        "https://docs.aws.amazon.com/step-functions/latest/apireference/"
        "API_LoggingConfiguration.html (level OFF when not configured)",
    ),
    ProviderDefault(
        "aws:sfn/stateMachine:StateMachine",
        "tracingConfiguration",
        {"enabled": False},
        "https://docs.aws.amazon.com/step-functions/latest/apireference/"
        "API_TracingConfiguration.html (enabled: false unless set)",
    ),
)

#: Computed properties the rules read that have no AWS default because the program must set
#: them (the provider refuses the resource without them): (type, property) -> why.
REQUIRED_INPUTS: Final[dict[tuple[str, str], str]] = {
    ("aws:apigatewayv2/integration:Integration", "integrationType"): "required argument",
    ("aws:apigateway/integration:Integration", "type"): "required argument",
    ("aws:apigateway/methodSettings:MethodSettings", "settings"): "required argument",
    ("aws:apigatewayv2/integration:Integration", "apiId"): "required argument",
    ("aws:apigatewayv2/api:Api", "protocolType"): "required argument",
    ("aws:lambda/eventSourceMapping:EventSourceMapping", "functionName"): (
        "required argument (the provider reports it back as the function's ARN)"
    ),
    ("aws:apigateway/methodSettings:MethodSettings", "methodPath"): "required argument",
    ("aws:apigateway/methodSettings:MethodSettings", "restApi"): "required argument",
    ("aws:apigateway/methodSettings:MethodSettings", "stageName"): "required argument",
    ("aws:apigateway/stage:Stage", "restApi"): "required argument",
    ("aws:apigateway/stage:Stage", "stageName"): "required argument",
    ("aws:apigatewayv2/stage:Stage", "apiId"): "required argument",
    ("aws:sqs/redrivePolicy:RedrivePolicy", "queueUrl"): "required argument",
    ("aws:sqs/redrivePolicy:RedrivePolicy", "redrivePolicy"): "required argument",
    ("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "queueUrl"): "required argument",
    ("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "functionName"): (
        "required argument"
    ),
    ("aws:lambda/function:Function", "role"): "required argument",
    ("aws:lambda/permission:Permission", "function"): "required argument",
    ("aws:lambda/permission:Permission", "principal"): "required argument",
    ("aws:dynamodb/tableReplica:TableReplica", "globalTableArn"): "required argument",
    ("aws:iam/rolePolicy:RolePolicy", "role"): "required argument",
    ("aws:iam/rolePolicy:RolePolicy", "policy"): "required argument",
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "role"): "required argument",
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "policyArn"): "required argument",
    ("aws:iam/policyAttachment:PolicyAttachment", "policyArn"): "required argument",
    ("aws:iam/policy:Policy", "policy"): "required argument",
    ("aws:sns/topicSubscription:TopicSubscription", "protocol"): "required argument",
    ("aws:sns/topicSubscription:TopicSubscription", "endpoint"): "required argument",
    ("aws:cloudwatch/eventTarget:EventTarget", "arn"): "required argument",
    ("aws:route53/healthCheck:HealthCheck", "type"): "required argument",
    ("aws:sfn/stateMachine:StateMachine", "definition"): "required argument",
}

#: Computed properties the rules read whose AWS value is not a fixed default but derived from
#: the resource itself (or from what the stack attaches to it); fake_outputs builds the ones
#: that have a value of their own: (type, property) -> how.
DERIVED_OUTPUTS: Final[dict[tuple[str, str], str]] = {
    ("aws:lambda/function:Function", "loggingConfig"): (
        "log group /aws/lambda/<function name>, format Text"
    ),
    ("aws:lambda/function:Function", "name"): (
        "the program's name, else the provider's auto-name (<logical name>-<7 hex>)"
    ),
    # Not a default: with the argument unset the provider reads back whatever is attached to
    # the role (ListAttachedRolePolicies / ListRolePolicies), RolePolicyAttachment and RolePolicy
    # resources included; a role nothing attaches to reports an empty list. See
    # terraform-provider-aws website/docs/r/iam_role.html.markdown (managed_policy_arns,
    # inline_policy: "If no blocks are configured, Terraform will not manage any inline
    # policies in this resource").
    ("aws:iam/role:Role", "managedPolicyArns"): (
        "the managed policies attached to the role, by whichever resource; [] when none"
    ),
    ("aws:iam/role:Role", "inlinePolicies"): (
        "the inline policies the role has, by whichever resource; [] when none"
    ),
}


def defaults_for(type_token: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Property -> AWS's value, for every row of `type_token` that holds for these inputs."""
    found: dict[str, Any] = {}
    for row in PROVIDER_DEFAULTS:
        if row.type == type_token and row.path not in found and row.applies(inputs):
            found[row.path] = row.value
    return found


def has_row(type_token: str, path: str) -> bool:
    return any(row.type == type_token and row.path == path for row in PROVIDER_DEFAULTS)
