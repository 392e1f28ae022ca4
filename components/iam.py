"""Least-privilege IAM documents for the components' roles.

Statements are plain data so a component can add its own (a worker's queue actions) to what the
user asks for, and so a wildcard is refused here, at construction, rather than at review time.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi

from .inputs import schema_args

# `*`, `sqs:*`, `dynamodb:Get*`-style prefixes are still allowed; a bare or service-wide
# wildcard is what turns a function into an account-wide blast radius.
_WILDCARD_ACTION = re.compile(r"^(\*|[a-z0-9-]+:\*)$")


@schema_args
@dataclass(frozen=True)
class PolicyStatement:
    """One IAM Allow statement: exact actions on exact resources (ARNs may be Outputs)."""

    actions: Sequence[str]
    """The actions, e.g. 'sqs:SendMessage'; a service-wide wildcard ('sqs:*', '*') is refused."""
    resources: Sequence[pulumi.Input[str]]
    """The ARNs the actions apply to."""
    sid: str | None = None
    """The statement's id."""
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """IAM conditions: operator -> condition key -> value(s), e.g.
    {"StringEquals": {"aws:SourceAccount": "123456789012"}}."""

    def __post_init__(self) -> None:
        if not self.actions:
            raise ValueError(
                "PolicyStatement.actions: give at least one action, e.g. 'sqs:SendMessage'."
            )
        if not self.resources:
            raise ValueError(
                "PolicyStatement.resources: give the ARNs the actions apply to (use '*' only for "
                "services without resource-level permissions, such as X-Ray)."
            )
        for action in self.actions:
            if _WILDCARD_ACTION.match(action):
                raise ValueError(
                    f"PolicyStatement.actions: {action!r} grants every action of the service; "
                    "list the actions the function calls instead."
                )


def policy_document(statements: Sequence[PolicyStatement]) -> pulumi.Output[str]:
    """Render statements as a policy JSON string (resolving any Output ARNs)."""
    rendered: list[dict[str, object]] = []
    for statement in statements:
        entry: dict[str, object] = {
            "Effect": "Allow",
            "Action": sorted(statement.actions),
            "Resource": list(statement.resources),
        }
        if statement.sid:
            entry["Sid"] = statement.sid
        if statement.conditions:
            entry["Condition"] = statement.conditions
        rendered.append(entry)
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": rendered})


#: Service principals whose trust policies carry `aws:SourceAccount` but no `aws:SourceArn`, and
#: why. Every other principal's trust policy must name the ARN (a pattern) of what assumes it.
#:
#: Services put these keys in the request context when they assume a role on behalf of a resource
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html and
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourceaccount);
#: a condition on a key the service does not send fails, and the service can no longer assume the
#: role. Hence only the keys each service is documented to send.
SOURCE_ARN_EXCEPTIONS: Final[Mapping[str, str]] = {
    "lambda.amazonaws.com": (
        "An execution role is assumed for the function's invocations and for its event source "
        "mappings' pollers (SQS, Kinesis). Lambda documents aws:SourceAccount and aws:SourceArn "
        "in execution-role trust policies "
        "(https://docs.aws.amazon.com/lambda/latest/dg/permissions-managed-policies.html) but not "
        "which ARN each of these callers sends as aws:SourceArn; a pattern that misses one stops "
        "the function or its poller, so the role names the account only."
    ),
}


#: Service principals whose trust policies carry no source condition at all, and why: AWS
#: documents no source-context key these services send when they assume such a role, and a
#: condition on a key a service does not send makes the role unusable.
UNCONDITIONED_PRINCIPALS: Final[Mapping[str, str]] = {
    "apigateway.amazonaws.com": (
        "The CloudWatch Logs role is an account setting per region (aws.apigateway.Account), "
        "assumed for every API and stage of the account, this stack's and others'. API "
        "Gateway's documentation of that role "
        "(https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html) gives "
        "a trust policy without conditions and names no source key it sends; with a condition it "
        "did not satisfy, UpdateAccount would refuse the role or stage logs would stop. Another "
        "account cannot point its API Gateway at this role: setting it takes iam:PassRole, which "
        "passes roles of the caller's own account only."
    ),
}


def assume_role_policy(
    service: str,
    *,
    source_account: pulumi.Input[str] | None = None,
    source_arn: pulumi.Input[str] | None = None,
) -> pulumi.Output[str]:
    """Trust policy that lets one AWS service assume the role, on behalf of `source_account`'s
    resources only (`aws:SourceAccount`), and of those whose ARN matches `source_arn` (a pattern,
    `aws:SourceArn` with ArnLike) - the cross-service confused deputy guard
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).

    `source_arn` is required unless the service is in SOURCE_ARN_EXCEPTIONS (each with its
    reason): a principal added later gets the ARN condition, or a documented reason not to.
    """
    if service in UNCONDITIONED_PRINCIPALS:
        if source_account is not None or source_arn is not None:
            raise ValueError(
                f"assume_role_policy: {service} is in UNCONDITIONED_PRINCIPALS "
                f"({UNCONDITIONED_PRINCIPALS[service]}); drop the conditions or the entry."
            )
        return pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
    if source_account is None:
        raise ValueError(
            f"assume_role_policy: {service} needs source_account (aws:SourceAccount), or an "
            "entry in UNCONDITIONED_PRINCIPALS with the reason it cannot have one."
        )
    if source_arn is None and service not in SOURCE_ARN_EXCEPTIONS:
        raise ValueError(
            f"assume_role_policy: {service} needs source_arn, the ARN (pattern) of the resource "
            "that assumes the role (aws:SourceArn); or list the service in "
            "SOURCE_ARN_EXCEPTIONS with the reason it cannot have one."
        )
    if source_arn is not None and service in SOURCE_ARN_EXCEPTIONS:
        raise ValueError(
            f"assume_role_policy: {service} is in SOURCE_ARN_EXCEPTIONS "
            f"({SOURCE_ARN_EXCEPTIONS[service]}); drop source_arn or the exception."
        )
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": source_account}}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": condition,
                }
            ],
        }
    )


def partition_of(arn: str) -> str:
    """The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`)."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[1]:
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[1]
