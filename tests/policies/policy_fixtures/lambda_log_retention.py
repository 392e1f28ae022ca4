"""lambda-log-retention: every function's log group is declared, with a retention."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "lambda-log-retention"
US_WORKER = "tasks-us-east-1-worker-consumer"


def group_without_retention() -> StackBuilder:
    b = active_active_stack()
    del b.named(f"{US_WORKER}-logs").inputs["retentionInDays"]
    return b


def undeclared_group() -> StackBuilder:
    b = active_active_stack()
    b.remove(b.named(f"{US_WORKER}-logs"))
    function = b.named(f"{US_WORKER}-fn")
    del function.inputs["loggingConfig"]
    document = b.named(f"{US_WORKER}-policy").inputs["policy"].value
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "OwnLogGroup"]
    return b


def default_group_by_name(retention: int) -> StackBuilder:
    """No loggingConfig: the function logs to /aws/lambda/<name>, declared by that name."""
    b = undeclared_group()
    function = b.named(f"{US_WORKER}-fn")
    function.inputs["name"] = "tasks-us-east-1-worker"
    b.add(
        "aws:cloudwatch/logGroup:LogGroup",
        f"{US_WORKER}-default-logs",
        {
            "region": "us-east-1",
            "name": "/aws/lambda/tasks-us-east-1-worker",
            "retentionInDays": retention,
        },
        parent=b.named(US_WORKER),
    )
    return b


NEVER_EXPIRES = Expect(
    f"{US_WORKER}-logs",
    (
        "Log group 'tasks-us-east-1-worker-consumer-logs' of function "
        "'tasks-us-east-1-worker-consumer-fn' has no retention (logs never expire)",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(group_without_retention, (NEVER_EXPIRES,)),
    # loggingConfig.logGroup is the group's (unknown) name: linked by dependency.
    "preview": Case(group_without_retention, (NEVER_EXPIRES,), preview=True),
    "fail-undeclared": Case(
        undeclared_group,
        (Expect(f"{US_WORKER}-fn", ("has no log group in this stack", "retention_in_days=30")),),
        preview=True,
    ),
    "pass-default-group-by-name": Case(lambda: default_group_by_name(30), preview=True),
    "fail-short-default-group": Case(
        lambda: default_group_by_name(3),
        (Expect(f"{US_WORKER}-default-logs", ("keeps logs 3 days, under 7",)),),
        preview=True,
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
# A deployed function reports loggingConfig.logGroup = /aws/lambda/<name> although the program
# chose no group: still a function without a declared group.
CASES["outputs-only-undeclared"] = CASES["fail-undeclared"].reshaped(OUTPUTS_ONLY)
