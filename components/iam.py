"""Least-privilege IAM documents for the components' roles.

Statements are plain data so a component can add its own (a worker's queue actions) to what the
user asks for, and so a wildcard is refused here, at construction, rather than at review time.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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


def assume_role_policy(service: str) -> str:
    """Trust policy that lets one AWS service assume the role."""
    import json

    return json.dumps(
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
