"""iam-no-wildcard-actions: a function's role grants no `*` or `service:*` action on `*`.

Least privilege limits the blast radius: a function that may do everything to everything turns
a bug (or an injected payload) into an account-wide incident, and a retry storm of a buggy
function with `dynamodb:*` on `*` can hit every table. Exact actions on exact ARNs, with `*`
resources only for services that have no resource-level permissions (X-Ray).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..config import ConfigSpec, Setting
from ..model import (
    FUNCTION,
    IAM_POLICY,
    POLICY_ATTACHMENT,
    ROLE,
    ROLE_POLICY,
    ROLE_POLICY_ATTACHMENT,
    FunctionPolicy,
    StackModel,
)
from ..props import UNKNOWN
from ..rulekit import Report, stack_policy

NAME = "iam-no-wildcard-actions"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    # through the stack model's function roles and the policies that reach them
    (FUNCTION, "role"),
    (ROLE, "inlinePolicies"),
    (ROLE, "managedPolicyArns"),
    (ROLE_POLICY, "role"),
    (ROLE_POLICY, "policy"),
    (ROLE_POLICY_ATTACHMENT, "role"),
    (ROLE_POLICY_ATTACHMENT, "policyArn"),
    (POLICY_ATTACHMENT, "roles"),
    (POLICY_ATTACHMENT, "policyArn"),
    (IAM_POLICY, "policy"),
)

_WILDCARD_ACTION = re.compile(r"^(\*|[A-Za-z0-9-]+:\*)$")

#: AWS managed policies that grant `*` or `service:*` on every resource.
FULL_ACCESS_MANAGED_POLICIES = (
    "AdministratorAccess",
    "PowerUserAccess",
    "AmazonSQSFullAccess",
    "AmazonDynamoDBFullAccess",
    "AmazonS3FullAccess",
    "AWSLambda_FullAccess",
    "AmazonSNSFullAccess",
    "AmazonKinesisFullAccess",
)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "forbiddenManagedPolicies",
            "string_list",
            FULL_ACCESS_MANAGED_POLICIES,
            "Names of AWS managed policies that must not be attached to a function's role.",
        ),
    ),
)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard_grants(document: Any) -> list[str]:
    """Descriptions of the statements that grant a wildcard action on every resource."""
    if not isinstance(document, dict):
        return []
    found = []
    for position, statement in enumerate(_as_list(document.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect", "Allow") != "Allow":
            continue
        resources = _as_list(statement.get("Resource"))
        if "*" not in resources:
            continue
        label = f"statement {statement.get('Sid') or position}"
        wildcards = [
            action
            for action in _as_list(statement.get("Action"))
            if isinstance(action, str) and _WILDCARD_ACTION.match(action)
        ]
        if wildcards:
            found.append(f"{label} allows {', '.join(wildcards)} on *")
        elif "NotAction" in statement:
            found.append(f"{label} allows every action except NotAction on *")
    return found


def _grants(policy: FunctionPolicy, forbidden: set[str]) -> list[str]:
    if policy.managed_arn is not None:
        name = policy.managed_arn.rsplit("/", 1)[-1]
        if ":iam::aws:policy/" in policy.managed_arn and name in forbidden:
            return [f"the AWS managed policy {name} grants service-wide or full access on *"]
        return []
    if policy.document is UNKNOWN:
        return []  # a document built from other resources' outputs: checked by `pulumi up`
    return _wildcard_grants(policy.document)


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    forbidden = set(settings["forbiddenManagedPolicies"])
    functions_by_role: dict[str, list[str]] = {}
    for function_urn, roles in model.function_roles.items():
        for role in roles:
            functions_by_role.setdefault(role.urn, []).append(model.by_urn[function_urn].name)
    reported: set[tuple[str, str]] = set()
    for role_urn, function_names in functions_by_role.items():
        role = model.by_urn[role_urn]
        for policy in model.role_policies.get(role_urn, []):
            for grant in _grants(policy, forbidden):
                if (policy.holder.urn, grant) in reported:
                    continue
                reported.add((policy.holder.urn, grant))
                report(
                    f"'{policy.holder.name}' on role '{role.name}' (used by "
                    f"{', '.join(sorted(function_names))}): {grant}. A function that may do "
                    "everything turns one bug into an account-wide incident. Fix: list the "
                    "exact actions the function calls, on the exact resource ARNs.",
                    policy.holder.urn,
                )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Policies attached to Lambda functions' roles grant no '*' or 'service:*' action on "
        "resource '*'."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Replace wildcard actions with the exact actions, on exact ARNs.",
)
