"""iam-no-wildcard-actions: no `*` or `service:*` on `*` for a function's role."""

from __future__ import annotations

import json

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, JsonOf, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "iam-no-wildcard-actions"
WORKER = "tasks-eu-west-1-worker-consumer"


def with_literal_admin_policy() -> StackBuilder:
    """A hand-written inline policy: a literal document, so it is known even in a preview."""
    b = active_active_stack()
    role = b.named(f"{WORKER}-role")
    b.add(
        "aws:iam/rolePolicy:RolePolicy",
        f"{WORKER}-debug",
        {
            "role": role.out("id"),
            "policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Sid": "Debug", "Effect": "Allow", "Action": "*", "Resource": "*"}
                    ],
                }
            ),
        },
        parent=b.named(WORKER),
    )
    return b


def with_managed_policy(name: str) -> StackBuilder:
    b = active_active_stack()
    b.add(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        f"{WORKER}-managed",
        {
            "role": b.named(f"{WORKER}-role").out("name"),
            "policyArn": f"arn:aws:iam::aws:policy/{name}",
        },
        parent=b.named(WORKER),
    )
    return b


def service_wildcard_in_generated_policy() -> StackBuilder:
    """The component's own policy, with `sqs:*` on `*`: built from ARNs (unknown in a preview)."""
    b = active_active_stack()
    policy = b.named(f"{WORKER}-policy")
    document = policy.inputs["policy"].value
    document["Statement"].append({"Effect": "Allow", "Action": ["sqs:*"], "Resource": ["*"]})
    policy.inputs["policy"] = JsonOf(document)
    return b


ADMIN = Expect(
    f"{WORKER}-debug",
    (
        "'tasks-eu-west-1-worker-consumer-debug' on role 'tasks-eu-west-1-worker-consumer-role'",
        "(used by tasks-eu-west-1-worker-consumer-fn)",
        "statement Debug allows * on *",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(with_literal_admin_policy, (ADMIN,)),
    # The role link (role.id) is unknown: found through the property dependency.
    "preview": Case(with_literal_admin_policy, (ADMIN,), preview=True),
    "fail-managed-admin": Case(
        lambda: with_managed_policy("AdministratorAccess"),
        (Expect(f"{WORKER}-managed", ("the AWS managed policy AdministratorAccess grants",)),),
        preview=True,
    ),
    "pass-scoped-managed-policy": Case(
        lambda: with_managed_policy("service-role/AWSLambdaSQSQueueExecutionRole"), preview=True
    ),
    "fail-service-wildcard": Case(
        service_wildcard_in_generated_policy,
        (Expect(f"{WORKER}-policy", ("allows sqs:* on *",)),),
    ),
    "preview-service-wildcard-deferred": Case(
        service_wildcard_in_generated_policy,
        (),
        preview=True,
        note="the document embeds other resources' ARNs: unknown until `pulumi up`",
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
