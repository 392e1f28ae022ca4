"""Function: a Lambda with its own log group, least-privilege role, X-Ray and Powertools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds

from .iam import PolicyStatement, assume_role_policy, policy_document
from .powertools import (
    POWERTOOLS_VERSION,
    checked_layer_arn,
    powertools_layer_arn,
    powertools_parameter_name,
)

#: The newest Python runtime pulumi-aws v7 accepts.
DEFAULT_RUNTIME = "python3.14"


@dataclass
class FunctionArgs:
    """What a user decides about a function; everything else gets a resilient default.

    `timeout_s` and `memory_mb` stay plain integers (never Outputs): other components derive
    from them (a queue's visibility timeout, an API's timeout check) and the policy pack must be
    able to read them at preview.
    """

    handler: str
    code: pulumi.Archive
    timeout_s: int = 10
    memory_mb: int = 256
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    policy_statements: Sequence[PolicyStatement] = ()
    reserved_concurrency: int | None = None
    log_retention_days: int = thresholds.LOG_RETENTION_DAYS_DEFAULT
    runtime: str = DEFAULT_RUNTIME
    architecture: str = "arm64"
    #: The Powertools release whose public layer the function gets, looked up per region in
    #: AWS's SSM parameter for the runtime and architecture (`latest` follows new releases);
    #: None: no Powertools layer.
    powertools_version: str | None = POWERTOOLS_VERSION
    #: A fixed layer version number instead of the lookup (the same number in every region).
    powertools_layer_version: int | None = None
    extra_layers: Sequence[pulumi.Input[str]] = ()
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ValueError naming the field and the fix."""
        if "." not in self.handler:
            raise ValueError(
                f"FunctionArgs.handler: {self.handler!r} must be 'module.function', e.g. 'app.handler'."
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


class Function(pulumi.ComponentResource):
    """A Lambda function placed explicitly in `region`.

    Children: a log group with retention (the function logs JSON into it), a role whose only
    inline policy grants the function's own log group, X-Ray, and the statements it is given.
    """

    function: aws.lambda_.Function
    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy
    log_group: aws.cloudwatch.LogGroup
    timeout_s: int
    region: str

    def __init__(
        self,
        name: str,
        args: FunctionArgs,
        *,
        region: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("resilient-serverless:lambda:Function", name, None, opts)
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
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
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
        self.register_outputs(
            {
                "functionName": self.function.name,
                "functionArn": self.function.arn,
                "roleArn": self.role.arn,
                "logGroupName": self.log_group.name,
            }
        )

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
