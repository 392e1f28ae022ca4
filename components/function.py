"""Function: a Lambda with its own log group, least-privilege role, X-Ray and Powertools."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds

from .iam import PolicyStatement, assume_role_policy, policy_document
from .inputs import as_args, placed_in, schema_args
from .outputs import declared_outputs
from .powertools import (
    HANDLER_RUNTIMES,
    POWERTOOLS_VERSION,
    checked_layer_arn,
    powertools_layer_arn,
    powertools_parameter_name,
)
from .tokens import component_type, keep_previous_token

#: The newest Python runtime pulumi-aws v7 accepts.
DEFAULT_RUNTIME = "python3.14"


@schema_args
@dataclass
class FunctionArgs:
    """What a user decides about a function; everything else gets a resilient default.

    `timeout_s` and `memory_mb` stay plain integers (never Outputs): other components derive
    from them (a queue's visibility timeout, an API's timeout check) and the policy pack must be
    able to read them at preview.
    """

    handler: str
    """The handler as 'module.function', e.g. 'app.handler'."""
    code: pulumi.Archive
    """The function's code: an archive whose root holds the handler's module."""
    timeout_s: int = 10
    """Timeout in seconds (1..900). Plain: a queue's visibility timeout and an API's timeout
    check derive from it, and the policy pack reads it at preview."""
    memory_mb: int = 256
    """Memory in MB (128..10240)."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Environment variables."""
    policy_statements: Sequence[PolicyStatement] = ()
    """What the function may call, beyond its own log group and X-Ray."""
    reserved_concurrency: int | None = None
    """Reserved concurrency (at least 1); unset for none."""
    log_retention_days: int = thresholds.LOG_RETENTION_DAYS_DEFAULT
    """Retention of the function's log group, a CloudWatch Logs retention value."""
    runtime: str = DEFAULT_RUNTIME
    """The Python runtime, e.g. 'python3.13': one the handlers run on (3.11 or newer) with a
    Powertools v3 layer (see powertools.HANDLER_RUNTIMES)."""
    architecture: str = "arm64"
    """'arm64' or 'x86_64'."""
    powertools_version: str | None = POWERTOOLS_VERSION
    """The Powertools release whose public layer the function gets, looked up per region in AWS's
    SSM parameter for the runtime and architecture (`latest` follows new releases); unset: no
    Powertools layer."""
    powertools_layer_version: int | None = None
    """A fixed Powertools layer version number instead of the lookup (the same number in every
    region)."""
    extra_layers: Sequence[pulumi.Input[str]] = ()
    """More layer ARNs, after the Powertools layer."""
    description: str | None = None
    """The function's description."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the function, its role and its log group."""
    region: str | None = None
    """The AWS region the function runs in. Required for a Function of its own; a component's
    consumer function runs in its component's region (leave it unset there)."""

    def validate(self) -> None:
        """Raise ValueError naming the field and the fix."""
        if "." not in self.handler:
            raise ValueError(
                f"FunctionArgs.handler: {self.handler!r} must be 'module.function', e.g. 'app.handler'."
            )
        if self.runtime not in HANDLER_RUNTIMES:
            raise ValueError(
                f"FunctionArgs.runtime: {self.runtime!r} is not a runtime the handlers run on; "
                f"use one of {', '.join(HANDLER_RUNTIMES)} (Python 3.11 or newer, with a "
                "Powertools v3 layer)."
            )
        if not 1 <= self.timeout_s <= thresholds.MAX_LAMBDA_TIMEOUT_S:
            raise ValueError(
                f"FunctionArgs.timeout_s: {self.timeout_s} must be between 1 and "
                f"{thresholds.MAX_LAMBDA_TIMEOUT_S} seconds."
            )
        if not 128 <= self.memory_mb <= 10_240:
            raise ValueError(
                f"FunctionArgs.memory_mb: {self.memory_mb} must be between 128 and 10240 MB."
            )
        if self.powertools_layer_version is not None and self.powertools_layer_version < 1:
            raise ValueError(
                f"FunctionArgs.powertools_layer_version: {self.powertools_layer_version} must be a "
                "positive layer version, or None to look the layer up for powertools_version."
            )
        if self.powertools_version is not None:
            try:
                powertools_parameter_name(self.runtime, self.architecture, self.powertools_version)
            except ValueError as error:
                raise ValueError(f"FunctionArgs: {error}") from None
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            raise ValueError(
                "FunctionArgs.reserved_concurrency: must be at least 1 (0 would stop the function); "
                "leave it unset for no reservation."
            )
        if self.log_retention_days not in thresholds.LOG_RETENTION_DAYS_ALLOWED:
            raise ValueError(
                f"FunctionArgs.log_retention_days: {self.log_retention_days} is not a CloudWatch Logs "
                f"retention; use one of {thresholds.LOG_RETENTION_DAYS_ALLOWED}."
            )


@schema_args
@dataclass(frozen=True)
class FunctionTarget:
    """What an API needs from the function that serves its routes (`Function.target()` gives it)."""

    function_name: pulumi.Input[str]
    """The function's name (or ARN): what the API's invoke permission names."""
    invoke_arn: pulumi.Input[str]
    """The function's invoke ARN: what the API's integrations call."""
    timeout_s: int
    """The function's timeout in seconds: it must end before the API's integration timeout."""


class Function(pulumi.ComponentResource):
    """A Lambda function placed explicitly in `region`.

    Children: a log group with retention (the function logs JSON into it), a role whose only
    inline policy grants the function's own log group, X-Ray, and the statements it is given.
    """

    timeout_s: int
    """The function's timeout in seconds."""
    region: str
    """The region the function runs in."""
    function_name: pulumi.Output[str]
    """The Lambda function's name."""
    function_arn: pulumi.Output[str]
    """The Lambda function's ARN."""
    invoke_arn: pulumi.Output[str]
    """The ARN API Gateway integrations invoke."""
    role_arn: pulumi.Output[str]
    """The ARN of the function's execution role."""
    log_group_name: pulumi.Output[str]
    """The function's log group."""

    def __init__(
        self,
        name: str,
        args: FunctionArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        region: str | None = None,
    ) -> None:
        super().__init__(
            component_type("Function"), name, None, keep_previous_token("Function", opts)
        )
        args = as_args(FunctionArgs, args)
        region = placed_in("FunctionArgs", args.region, region)
        args.validate()
        self.timeout_s = args.timeout_s
        self.region = region
        child = pulumi.ResourceOptions(parent=self)

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            region=region,
            retention_in_days=args.log_retention_days,
            tags=dict(args.tags),
            opts=child,
        )
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.role = aws.iam.Role(
            f"{name}-role",
            # Only Lambda acting for this account's functions may assume it (no aws:SourceArn:
            # see SOURCE_ARN_EXCEPTIONS for why).
            assume_role_policy=assume_role_policy(
                "lambda.amazonaws.com", source_account=identity.account_id
            ),
            description=f"Execution role of {name} ({region})",
            tags=dict(args.tags),
            opts=child,
        )
        own_statements = [
            PolicyStatement(
                sid="OwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[pulumi.Output.concat(self.log_group.arn, ":*")],
            ),
            # X-Ray has no resource-level permissions: '*' is the only resource it accepts.
            PolicyStatement(
                sid="Tracing",
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                resources=["*"],
            ),
        ]
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=policy_document([*own_statements, *args.policy_statements]),
            opts=child,
        )

        layers: list[pulumi.Input[str]] = []
        powertools = self._powertools_layer(args, region)
        if powertools is not None:
            layers.append(powertools)
        layers.extend(args.extra_layers)

        self.function = aws.lambda_.Function(
            f"{name}-fn",
            region=region,
            role=self.role.arn,
            runtime=args.runtime,
            architectures=[args.architecture],
            handler=args.handler,
            code=args.code,
            timeout=args.timeout_s,
            memory_size=args.memory_mb,
            layers=layers,
            reserved_concurrent_executions=args.reserved_concurrency,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=self.log_group.name
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment))
            if args.environment
            else None,
            description=args.description,
            tags=dict(args.tags),
            # The role must be able to write logs and traces before the first invocation.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )
        self.function_name = self.function.name
        self.function_arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
        self.role_arn = self.role.arn
        self.log_group_name = self.log_group.name
        self.register_outputs(declared_outputs(self))

    def _powertools_layer(self, args: FunctionArgs, region: str) -> pulumi.Input[str] | None:
        """The Powertools layer's ARN in `region`: the pinned version, else the one AWS's public
        SSM parameter names for the release (an invoke, so it is known at preview too)."""
        if args.powertools_layer_version is not None:
            return powertools_layer_arn(
                region, args.runtime, args.architecture, args.powertools_layer_version
            )
        if args.powertools_version is None:
            return None
        parameter = powertools_parameter_name(
            args.runtime, args.architecture, args.powertools_version
        )
        looked_up = aws.ssm.get_parameter_output(
            name=parameter,
            region=region,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )

        def checked(value: str) -> str:
            return checked_layer_arn(
                value,
                parameter=parameter,
                region=region,
                runtime=args.runtime,
                architecture=args.architecture,
            )

        # The public parameter is not sensitive; `value` would come back marked secret.
        return looked_up.insecure_value.apply(checked)

    def target(self) -> FunctionTarget:
        """This function as the handler of an API's routes."""
        return FunctionTarget(
            function_name=self.function.name,
            invoke_arn=self.function.invoke_arn,
            timeout_s=self.timeout_s,
        )
