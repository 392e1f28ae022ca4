"""The stack model: every resource indexed once per AnalyzeStack, and the links between them.

Links come from what the program asked for, not from values: the engine reports, per property,
the URNs of the resources whose outputs flowed into it (`property_dependencies`). During the
preview of a new stack an event source mapping's `eventSourceArn` is unknown, but its property
dependency still names the queue. ARN / name / URL matching is only the fallback, for values
that are known (an existing stack, or a literal ARN of something outside the stack).

Everything here is built in one pass over the resources plus dictionary lookups, so each rule
is linear in the stack's size; the model is built once and shared by every stack policy of the
same AnalyzeStack request (see `model_for`).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

from . import thresholds
from .props import (
    ABSENT,
    UNKNOWN,
    UNKNOWN_SENTINELS,
    Marker,
    at,
    defer_owner,
    json_document,
    plain,
    program_view,
    text,
)

# --- type tokens -----------------------------------------------------------------------------

QUEUE: Final = "aws:sqs/queue:Queue"
REDRIVE_POLICY: Final = "aws:sqs/redrivePolicy:RedrivePolicy"
REDRIVE_ALLOW_POLICY: Final = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
FUNCTION: Final = "aws:lambda/function:Function"
EVENT_SOURCE_MAPPING: Final = "aws:lambda/eventSourceMapping:EventSourceMapping"
PERMISSION: Final = "aws:lambda/permission:Permission"
EVENT_INVOKE_CONFIG: Final = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
METRIC_ALARM: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
EVENT_TARGET: Final = "aws:cloudwatch/eventTarget:EventTarget"
REST_API: Final = "aws:apigateway/restApi:RestApi"
STAGE: Final = "aws:apigateway/stage:Stage"
INTEGRATION: Final = "aws:apigateway/integration:Integration"
METHOD_SETTINGS: Final = "aws:apigateway/methodSettings:MethodSettings"
#: API Gateway v2: HTTP (and WebSocket) APIs, their stages and integrations.
HTTP_API: Final = "aws:apigatewayv2/api:Api"
HTTP_STAGE: Final = "aws:apigatewayv2/stage:Stage"
HTTP_INTEGRATION: Final = "aws:apigatewayv2/integration:Integration"
#: Every resource whose region serves the stack's traffic: an API or one of its stages.
SERVING_TYPES: Final = (REST_API, HTTP_API, STAGE, HTTP_STAGE)
RECORD: Final = "aws:route53/record:Record"
HEALTH_CHECK: Final = "aws:route53/healthCheck:HealthCheck"
TABLE: Final = "aws:dynamodb/table:Table"
TABLE_REPLICA: Final = "aws:dynamodb/tableReplica:TableReplica"
KINESIS_STREAM: Final = "aws:kinesis/stream:Stream"
STATE_MACHINE: Final = "aws:sfn/stateMachine:StateMachine"
ROLE: Final = "aws:iam/role:Role"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_POLICY: Final = "aws:iam/policy:Policy"
POLICY_ATTACHMENT: Final = "aws:iam/policyAttachment:PolicyAttachment"
TOPIC_SUBSCRIPTION: Final = "aws:sns/topicSubscription:TopicSubscription"
BUCKET_NOTIFICATION: Final = "aws:s3/bucketNotification:BucketNotification"

# --- regions ---------------------------------------------------------------------------------

#: A resource without a `region` input (and whose provider's region the engine did not send)
#: lives in the provider's default region. The pack cannot see which one that is, so it is one
#: region of its own: two resources without `region` are in the same region, and never in the
#: same region as one that names its region.
DEFAULT_REGION: Final = "the provider's default region"
#: A `region` input computed from another resource's output: cannot be placed during preview.
UNKNOWN_REGION: Final = "an unknown region"


def region_label(region: str) -> str:
    return region if region in (DEFAULT_REGION, UNKNOWN_REGION) else f"region {region}"


# --- event sources ---------------------------------------------------------------------------

SQS: Final = "sqs"
KINESIS: Final = "kinesis"
DYNAMODB_STREAM: Final = "dynamodb"
#: Kinesis or DynamoDB stream; which one is not decidable from the mapping alone.
STREAM: Final = "stream"
OTHER_SOURCE: Final = "other"  # Kafka, Amazon MQ, DocumentDB: no batch item failures
STREAM_KINDS: Final = frozenset({KINESIS, DYNAMODB_STREAM, STREAM})

#: Inputs that only mappings of Kafka, Amazon MQ or DocumentDB sources take.
_OTHER_SOURCE_MARKERS: Final = (
    "selfManagedEventSource",
    "selfManagedKafkaEventSourceConfig",
    "amazonManagedKafkaEventSourceConfig",
    "topics",
    "queues",
    "documentDbEventSourceConfig",
)
_ARN_SERVICE_KINDS: Final = {
    "sqs": SQS,
    "kinesis": KINESIS,
    "dynamodb": DYNAMODB_STREAM,
    "kafka": OTHER_SOURCE,
    "mq": OTHER_SOURCE,
    "rds": OTHER_SOURCE,
}
_TYPE_SOURCE_KINDS: Final = {QUEUE: SQS, KINESIS_STREAM: KINESIS, TABLE: DYNAMODB_STREAM}


def mapping_kind_from_inputs(props: dict[str, Any]) -> str:
    """The kind of an event source mapping's source, from the mapping's own inputs.

    A known ARN names its service. Otherwise the shape decides: Kafka, MQ and DocumentDB
    mappings carry inputs no other source takes, Kinesis and DynamoDB streams require
    `startingPosition` (which SQS refuses), and what remains is SQS.
    """
    arn = text(props, "eventSourceArn")
    if isinstance(arn, str):
        kind = _ARN_SERVICE_KINDS.get(_arn_service(arn))
        if kind is not None:
            return kind
    if any(at(props, marker) is not ABSENT for marker in _OTHER_SOURCE_MARKERS):
        return OTHER_SOURCE
    if at(props, "startingPosition") is not ABSENT:
        return STREAM
    return SQS


def source_kind_label(kind: str) -> str:
    return {
        SQS: "SQS queue",
        KINESIS: "Kinesis stream",
        DYNAMODB_STREAM: "DynamoDB stream",
        STREAM: "Kinesis or DynamoDB stream",
        OTHER_SOURCE: "Kafka, MQ or DocumentDB source",
    }[kind]


# --- identifiers -----------------------------------------------------------------------------


def _arn_service(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[2] if len(parts) >= 6 and parts[0] == "arn" else ""


def identifier_names(value: str) -> list[tuple[str, str | None]]:
    """The resource names (with the region, when the identifier carries one) a known ARN, URL
    or name can refer to. Used only when no property dependency links two resources."""
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) < 6:
            return []
        service, region, resource = parts[2], parts[3] or None, parts[5]
        if service == "apigateway" and "/functions/" in resource:
            inner = resource.split("/functions/", 1)[1].rsplit("/invocations", 1)[0]
            return identifier_names(inner)
        if service == "lambda" and resource.startswith("function:"):
            return [(resource.split(":")[1], region)]
        if service == "logs" and resource.startswith("log-group:"):
            return [(resource[len("log-group:") :].removesuffix(":*"), region)]
        if service == "dynamodb" and resource.startswith("table/"):
            return [(resource.split("/")[1], region)]
        if service in ("kinesis", "iam") and "/" in resource:
            return [(resource.rsplit("/", 1)[1], region)]
        return [(resource, region)]
    if value.startswith("https://") and ".amazonaws.com/" in value:
        host, _, path = value[len("https://") :].partition("/")
        host_parts = host.split(".")
        region = host_parts[1] if len(host_parts) > 3 else None
        return [(path.rstrip("/").rsplit("/", 1)[-1], region)]
    if value.count(":") == 2 and ":function:" in value:  # partial Lambda ARN: account:function:name
        return [(value.rsplit(":", 1)[1], None)]
    return [(value, None)]


_IDENTITY_PROPS: Final = ("arn", "url", "invokeArn", "streamArn", "qualifiedArn", "id")


# --- resources -------------------------------------------------------------------------------


class Resource:
    """One resource of the stack: raw properties (unknown sentinels kept) and its links."""

    __slots__ = ("_origin", "_region", "deps", "name", "props", "type", "urn")

    def __init__(
        self,
        urn: str,
        type_: str,
        name: str,
        props: dict[str, Any],
        deps: dict[str, list[str]],
        origin: Any = None,
    ) -> None:
        self.urn = urn
        self.type = type_
        self.name = name
        self.props = props
        self.deps = deps
        # The SDK resource this came from; its provider is decoded only if a region needs it.
        self._origin = origin
        self._region: str | None = None

    @property
    def region(self) -> str:
        """The region the resource lives in: its `region` input, else its provider's, else
        DEFAULT_REGION. UNKNOWN_REGION when the input is computed."""
        if self._region is None:
            self._region = self._resolve_region()
        if self._region == UNKNOWN_REGION:
            # Whatever the reader compares the region with is decided by `pulumi up`.
            defer_owner(self, "region")
        return self._region

    def _resolve_region(self) -> str:
        value = text(self.props, "region")
        if isinstance(value, str):
            return value
        if value is UNKNOWN:
            return UNKNOWN_REGION
        provider_region = provider_region_of(getattr(self._origin, "provider", None))
        return provider_region if provider_region is not None else DEFAULT_REGION

    @property
    def protect(self) -> bool:
        """The `protect` option, as the engine sent it: the engine refuses to delete the
        resource while it is set."""
        options = getattr(self._origin, "opts", None)
        return bool(getattr(options, "protect", False))

    @property
    def retiring(self) -> bool:
        """Carries the retiring tag (thresholds.RETIRING_TAG_KEY = "true")."""
        value = text(self.props, "tags", thresholds.RETIRING_TAG_KEY)
        return isinstance(value, str) and value.strip().lower() == "true"

    def __repr__(self) -> str:
        return f"Resource({self.type}, {self.name})"


def provider_region_of(provider: Any) -> str | None:
    """The `region` input of the resource's provider, when the engine sent it and it is known."""
    props = getattr(provider, "props", None)
    if props is None:
        return None
    try:
        value = text(plain(props), "region")
    except Exception:
        return None
    return value if isinstance(value, str) else None


# --- derived facts ---------------------------------------------------------------------------


def _noted(document: Any, holder: Resource, prop: str) -> Any:
    """A parsed JSON property handed to a rule: reading it while it is UNKNOWN notes a check
    deferred to `pulumi up` (props.deferrals) for the rule that reads it, whichever rule built
    the model's view first."""
    if document is UNKNOWN:
        defer_owner(holder, prop)
    return document


class Redrive:
    """One redrive declaration: inline on a queue, or a standalone RedrivePolicy resource.

    `document` is the parsed redrive JSON, ABSENT, UNKNOWN (computed, e.g. from the DLQ's ARN),
    or None when it is not valid JSON."""

    __slots__ = ("_document", "_prop", "carrier", "dead_letter_queue", "source")

    def __init__(
        self,
        carrier: Resource,
        source: Resource | None,
        dead_letter_queue: Resource | None,
        document: Any,
        prop: str = "redrivePolicy",
    ) -> None:
        self.carrier = carrier
        self.source = source
        self.dead_letter_queue = dead_letter_queue
        self._document = document
        self._prop = prop

    @property
    def document(self) -> Any:
        return _noted(self._document, self.carrier, self._prop)


@dataclass
class DeadLetterQueue:
    queue: Resource
    #: Queues that redrive into it.
    sources: list[Resource] = field(default_factory=list)
    #: Why it counts as a DLQ, for messages ("dead-letter queue of X", ...).
    roles: list[str] = field(default_factory=list)


class FunctionPolicy:
    """An IAM policy that reaches a role: its document (or managed ARN) and where it lives."""

    __slots__ = ("_document", "_prop", "holder", "managed_arn")

    def __init__(
        self,
        holder: Resource,
        document: Any,
        managed_arn: str | None = None,
        prop: str = "policy",
    ) -> None:
        self.holder = holder
        self._document = document
        self.managed_arn = managed_arn
        self._prop = prop

    @property
    def document(self) -> Any:
        return _noted(self._document, self.holder, self._prop)


class StackModel:
    """Indexes over one AnalyzeStack's resources. Build with `model_for`."""

    def __init__(self, resources: Iterable[Any]) -> None:
        self.resources: list[Resource] = []
        self.by_urn: dict[str, Resource] = {}
        self.by_type: dict[str, list[Resource]] = defaultdict(list)
        self._owners: dict[int, Resource] | None = None
        for source in resources:
            # The pack's analyzer keeps the URNs it received; the SDK's stock one resolved
            # them to resources, which only the URNs are needed of.
            deps = getattr(source, "property_dependency_urns", None)
            if deps is None:
                deps = {
                    key: [dependency.urn for dependency in dependencies]
                    for key, dependencies in (source.property_dependencies or {}).items()
                }
            # The pack's analyzer decodes the state and the kept inputs merged in one pass;
            # any other source (the SDK's resources) is merged here.
            program_properties = getattr(source, "program_properties", None)
            if program_properties is not None:
                props = program_properties()
            else:
                props = program_view(getattr(source, "checked_inputs", None), plain(source.props))
            resource = Resource(source.urn, source.resource_type, source.name, props, deps, source)
            self.resources.append(resource)
            self.by_urn[resource.urn] = resource
            self.by_type[resource.type].append(resource)

    def owner_of(self, container: Any) -> Resource | None:
        """The resource whose properties `container` is (for deferred checks), or None."""
        if self._owners is None:
            self._owners = {id(resource.props): resource for resource in self.resources}
        return self._owners.get(id(container))

    def of_type(self, *types: str) -> list[Resource]:
        if len(types) == 1:
            return self.by_type.get(types[0], [])
        return [resource for type_ in types for resource in self.by_type.get(type_, [])]

    # -- links --------------------------------------------------------------------------------

    def linked(
        self, resource: Resource, prop: str, types: Iterable[str], *path: str | int
    ) -> list[Resource]:
        """Resources of `types` that `resource.prop` (at `path` inside it) refers to.

        Property dependencies first (they hold during preview); a known value second.
        """
        wanted = frozenset(types)
        found: list[Resource] = []
        for urn in resource.deps.get(prop, ()):
            target = self.by_urn.get(urn)
            if target is not None and target.type in wanted and target not in found:
                found.append(target)
        if found:
            return found
        value = at(resource.props, prop, *path)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str):
                targets = self.by_value(item, wanted)
                # A bare name can match namesakes in several regions: prefer the referrer's.
                nearby = [target for target in targets if target.region == resource.region]
                for target in nearby if len(targets) > 1 and nearby else targets:
                    if target not in found:
                        found.append(target)
        return found

    def by_value(self, value: str, types: frozenset[str]) -> list[Resource]:
        """Resources of `types` a known identifier (ARN, URL, id or name) refers to."""
        exact = [resource for resource in self._identity.get(value, ()) if resource.type in types]
        if exact:
            return exact
        found: list[Resource] = []
        for name, region in identifier_names(value):
            for type_ in types:
                for resource in self._names.get((type_, name), ()):
                    if region is None or resource.region in (region, DEFAULT_REGION):
                        found.append(resource)
        return found

    @cached_property
    def _identity(self) -> dict[str, list[Resource]]:
        index: dict[str, list[Resource]] = defaultdict(list)
        for resource in self.resources:
            for key in _IDENTITY_PROPS:
                value = resource.props.get(key)
                # A known, non-empty string (what `text` reads as a value).
                if isinstance(value, str) and value and value not in UNKNOWN_SENTINELS:
                    index[value].append(resource)
        return index

    @cached_property
    def _names(self) -> dict[tuple[str, str], list[Resource]]:
        index: dict[tuple[str, str], list[Resource]] = defaultdict(list)
        for resource in self.resources:
            name = text(resource.props, "name")
            if isinstance(name, str):
                index[(resource.type, name)].append(resource)
        return index

    # -- event source mappings ----------------------------------------------------------------

    def mapping_source(self, mapping: Resource) -> tuple[str, Resource | None]:
        """(kind, the source resource when it is in the stack)."""
        for source in self.linked(mapping, "eventSourceArn", _TYPE_SOURCE_KINDS):
            return _TYPE_SOURCE_KINDS[source.type], source
        return mapping_kind_from_inputs(mapping.props), None

    def mapping_function(self, mapping: Resource) -> Resource | None:
        functions = self.linked(mapping, "functionName", (FUNCTION,))
        return functions[0] if functions else None

    # -- queues and their dead-letter queues --------------------------------------------------

    @cached_property
    def redrives(self) -> list[Redrive]:
        found: list[Redrive] = []
        for queue in self.of_type(QUEUE):
            document = json_document(queue.props, "redrivePolicy", note=False)
            if document is ABSENT:
                continue
            found.append(
                Redrive(
                    queue, queue, self._redrive_target(queue, "redrivePolicy", document), document
                )
            )
        for carrier in self.of_type(REDRIVE_POLICY):
            document = json_document(carrier.props, "redrivePolicy", note=False)
            sources = self.linked(carrier, "queueUrl", (QUEUE,))
            target = self._redrive_target(carrier, "redrivePolicy", document)
            found.append(Redrive(carrier, sources[0] if sources else None, target, document))
        return found

    def _redrive_target(self, carrier: Resource, prop: str, document: Any) -> Resource | None:
        for urn in carrier.deps.get(prop, ()):
            target = self.by_urn.get(urn)
            if target is not None and target.type == QUEUE and target is not carrier:
                return target
        if isinstance(document, dict):
            arn = document.get("deadLetterTargetArn")
            if isinstance(arn, str):
                targets = self.by_value(arn, frozenset({QUEUE}))
                if targets:
                    return targets[0]
        return None

    @cached_property
    def redrives_by_source(self) -> dict[str, list[Redrive]]:
        index: dict[str, list[Redrive]] = defaultdict(list)
        for redrive in self.redrives:
            if redrive.source is not None:
                index[redrive.source.urn].append(redrive)
        return index

    @cached_property
    def dead_letter_queues(self) -> dict[str, DeadLetterQueue]:
        """Every queue that receives failures: a redrive target, a queue that allows being one,
        or the failure destination of a function, a mapping, a subscription or a rule target."""
        found: dict[str, DeadLetterQueue] = {}

        def mark(queue: Resource, role: str, source: Resource | None = None) -> None:
            entry = found.setdefault(queue.urn, DeadLetterQueue(queue))
            if role not in entry.roles:
                entry.roles.append(role)
            if source is not None and source not in entry.sources:
                entry.sources.append(source)

        for redrive in self.redrives:
            if redrive.dead_letter_queue is not None:
                source_name = redrive.source.name if redrive.source is not None else "a queue"
                mark(
                    redrive.dead_letter_queue, f"dead-letter queue of {source_name}", redrive.source
                )
        for queue in self.of_type(QUEUE):
            if json_document(queue.props, "redriveAllowPolicy", note=False) is not ABSENT:
                mark(queue, "allows redrive into it (redriveAllowPolicy)")
        for allow in self.of_type(REDRIVE_ALLOW_POLICY):
            for queue in self.linked(allow, "queueUrl", (QUEUE,)):
                mark(queue, f"allows redrive into it ({allow.name})")
        destinations = (
            (FUNCTION, "deadLetterConfig", ("targetArn",), "dead-letter queue of function"),
            (
                EVENT_INVOKE_CONFIG,
                "destinationConfig",
                ("onFailure", "destination"),
                "on-failure destination of",
            ),
            (
                EVENT_SOURCE_MAPPING,
                "destinationConfig",
                ("onFailure", "destinationArn"),
                "on-failure destination of mapping",
            ),
            (EVENT_TARGET, "deadLetterConfig", ("arn",), "dead-letter queue of event target"),
        )
        for type_, prop, path, role in destinations:
            for holder in self.of_type(type_):
                if at(holder.props, prop) is ABSENT:
                    continue
                for queue in self.linked(holder, prop, (QUEUE,), *path):
                    mark(queue, f"{role} {holder.name}")
        for subscription in self.of_type(TOPIC_SUBSCRIPTION):
            document = json_document(subscription.props, "redrivePolicy", note=False)
            if document is ABSENT:
                continue
            target = self._redrive_target(subscription, "redrivePolicy", document)
            if target is not None:
                mark(target, f"dead-letter queue of subscription {subscription.name}")
        return found

    # -- regions ------------------------------------------------------------------------------

    @cached_property
    def serving_regions(self) -> list[str]:
        """Regions with an API Gateway REST or HTTP API (or a stage of one): where the stack
        serves traffic. Both kinds count alike, so a stack's premise (one region or several)
        does not depend on which kind of API it chose. A retiring region does not serve."""
        regions = {resource.region for resource in self.of_type(*SERVING_TYPES)}
        return sorted(regions - set(self.retiring_regions))

    @cached_property
    def retiring_regions(self) -> list[str]:
        """Regions on their way out: every API and stage there carries the retiring tag (the
        components' contract, thresholds.RETIRING_TAG_KEY). One untagged API still serves."""
        by_region: dict[str, list[Resource]] = defaultdict(list)
        for resource in self.of_type(*SERVING_TYPES):
            by_region[resource.region].append(resource)
        return sorted(
            region
            for region, apis in by_region.items()
            if region != UNKNOWN_REGION and all(api.retiring for api in apis)
        )

    @cached_property
    def placed_serving_regions(self) -> list[str]:
        """The serving regions that are known (a computed region is placed by `pulumi up`)."""
        return [region for region in self.serving_regions if region != UNKNOWN_REGION]

    @cached_property
    def serves_from_several_regions(self) -> bool:
        """The premise of the multi-region rules: at least two known serving regions."""
        return len(self.placed_serving_regions) >= 2

    # -- functions ----------------------------------------------------------------------------

    @cached_property
    def function_roles(self) -> dict[str, list[Resource]]:
        return {
            function.urn: self.linked(function, "role", (ROLE,))
            for function in self.of_type(FUNCTION)
        }

    @cached_property
    def role_policies(self) -> dict[str, list[FunctionPolicy]]:
        """Role URN -> every policy attached to it (inline, attached, managed)."""
        index: dict[str, list[FunctionPolicy]] = defaultdict(list)
        for role in self.of_type(ROLE):
            inline = at(role.props, "inlinePolicies")
            if isinstance(inline, list):
                for entry in inline:
                    index[role.urn].append(
                        FunctionPolicy(
                            role,
                            json_document(entry, "policy", note=False),
                            prop="inlinePolicies",
                        )
                    )
            elif inline is UNKNOWN:
                index[role.urn].append(FunctionPolicy(role, UNKNOWN, prop="inlinePolicies"))
            managed = at(role.props, "managedPolicyArns")
            for arn in managed if isinstance(managed, list) else []:
                if isinstance(arn, str):
                    index[role.urn].extend(self._policies_for_arn(role, arn))
        for holder in self.of_type(ROLE_POLICY):
            for role in self.linked(holder, "role", (ROLE,)):
                index[role.urn].append(
                    FunctionPolicy(holder, json_document(holder.props, "policy", note=False))
                )
        for holder in self.of_type(ROLE_POLICY_ATTACHMENT):
            policies = self._attached_policies(holder)
            for role in self.linked(holder, "role", (ROLE,)):
                index[role.urn].extend(policies)
        for holder in self.of_type(POLICY_ATTACHMENT):
            policies = self._attached_policies(holder)
            for role in self.linked(holder, "roles", (ROLE,)):
                index[role.urn].extend(policies)
        return index

    def _attached_policies(self, attachment: Resource) -> list[FunctionPolicy]:
        policies = self.linked(attachment, "policyArn", (IAM_POLICY,))
        if policies:
            return [
                FunctionPolicy(policy, json_document(policy.props, "policy", note=False))
                for policy in policies
            ]
        arn = text(attachment.props, "policyArn")
        if isinstance(arn, str):
            return self._policies_for_arn(attachment, arn)
        return [
            FunctionPolicy(attachment, UNKNOWN if arn is UNKNOWN else ABSENT, prop="policyArn")
        ]

    def _policies_for_arn(self, holder: Resource, arn: str) -> list[FunctionPolicy]:
        policies = self.by_value(arn, frozenset({IAM_POLICY}))
        if policies:
            return [
                FunctionPolicy(policy, json_document(policy.props, "policy", note=False))
                for policy in policies
            ]
        return [FunctionPolicy(holder, ABSENT, managed_arn=arn)]

    @cached_property
    def function_log_groups(self) -> dict[str, list[Resource]]:
        """Function URN -> the log groups it writes to: its `loggingConfig.logGroup`, else the
        default `/aws/lambda/<name>` group (linked by name or by dependency)."""
        by_function_dependency: dict[str, list[Resource]] = defaultdict(list)
        for group in self.of_type(LOG_GROUP):
            for urn in group.deps.get("name", ()):
                by_function_dependency[urn].append(group)
        index: dict[str, list[Resource]] = {}
        for function in self.of_type(FUNCTION):
            groups: list[Resource] = []
            if at(function.props, "loggingConfig", "logGroup") is not ABSENT:
                groups = self.linked(function, "loggingConfig", (LOG_GROUP,), "logGroup")
            if not groups:
                groups = list(by_function_dependency.get(function.urn, ()))
            if not groups:
                name = text(function.props, "name")
                if isinstance(name, str):
                    groups = self.by_value(f"/aws/lambda/{name}", frozenset({LOG_GROUP}))
            index[function.urn] = groups
        return index

    # -- alarms -------------------------------------------------------------------------------

    @cached_property
    def queue_alarms(self) -> dict[str, list[tuple[Resource, dict[str, Any]]]]:
        """Queue URN -> (alarm, the metric it watches on that queue) for every SQS metric
        alarm, single-metric or metric math."""
        index: dict[str, list[tuple[Resource, dict[str, Any]]]] = defaultdict(list)
        for alarm in self.of_type(METRIC_ALARM):
            if at(alarm.props, "dimensions") is not ABSENT:
                metric = {
                    "namespace": at(alarm.props, "namespace"),
                    "metricName": at(alarm.props, "metricName"),
                }
                for queue in self.linked(alarm, "dimensions", (QUEUE,), "QueueName"):
                    index[queue.urn].append((alarm, metric))
            queries = at(alarm.props, "metricQueries")
            if isinstance(queries, list):
                for position, query in enumerate(queries):
                    if not isinstance(query, dict):
                        continue
                    metric = {
                        "namespace": at(query, "metric", "namespace"),
                        "metricName": at(query, "metric", "metricName"),
                    }
                    for queue in self._query_queues(alarm, position):
                        index[queue.urn].append((alarm, metric))
        return index

    def _query_queues(self, alarm: Resource, position: int) -> list[Resource]:
        linked = [
            self.by_urn[urn]
            for urn in alarm.deps.get("metricQueries", ())
            if urn in self.by_urn and self.by_urn[urn].type == QUEUE
        ]
        name = text(alarm.props, "metricQueries", position, "metric", "dimensions", "QueueName")
        if isinstance(name, str):
            return self.by_value(name, frozenset({QUEUE})) or linked
        if name is UNKNOWN:
            return linked
        return []

    # -- asynchronous invocations -------------------------------------------------------------

    @cached_property
    def function_invoke_configs(self) -> dict[str, list[Resource]]:
        index: dict[str, list[Resource]] = defaultdict(list)
        for config in self.of_type(EVENT_INVOKE_CONFIG):
            for function in self.linked(config, "functionName", (FUNCTION,)):
                index[function.urn].append(config)
        return index


def with_region(resources: Sequence[Resource]) -> dict[str, list[Resource]]:
    grouped: dict[str, list[Resource]] = defaultdict(list)
    for resource in resources:
        grouped[resource.region].append(resource)
    return grouped


def is_known(value: Any) -> bool:
    return not isinstance(value, Marker)


# --- one model per request -------------------------------------------------------------------

_model_lock = threading.Lock()
_last_model: tuple[object, StackModel] | None = None


def model_for(resources: Sequence[Any]) -> StackModel:
    """The model of `resources`, built once however many stack policies ask for it.

    The pack's analyzer hands every stack policy of one AnalyzeStack the same list object, so
    the identity check is what "once per request" means. (Under the SDK's stock analyzer each
    policy gets its own list and the model is simply rebuilt: correct, only slower.)
    """
    global _last_model
    with _model_lock:
        if _last_model is not None and _last_model[0] is resources:
            return _last_model[1]
        model = StackModel(resources)
        _last_model = (resources, model)
        return model


def release_model(resources: Sequence[Any]) -> None:
    """Forget the model of `resources` once their request is over (the analyzer calls this), so
    that it is freed then rather than kept until the next request."""
    global _last_model
    with _model_lock:
        if _last_model is not None and _last_model[0] is resources:
            _last_model = None
