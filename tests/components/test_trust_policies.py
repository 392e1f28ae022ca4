"""Every role the program registers trusts one AWS service on behalf of this account only
(`aws:SourceAccount`), and of the resource that assumes it (`aws:SourceArn`) unless its service
is a documented exception (account only, or no condition where AWS documents none); the account-level logging role outlives the stack with the setting
that points at it; functions run only on runtimes the handlers run on."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from typing import Any

import pytest
from harness import Run
from program_runs import prod_config, run_program
from resilient_serverless import Function, FunctionArgs
from resilient_serverless.iam import (
    SOURCE_ARN_EXCEPTIONS,
    UNCONDITIONED_PRINCIPALS,
    assume_role_policy,
)
from resilient_serverless.powertools import HANDLER_RUNTIMES

from offline.engine.fake_outputs import ACCOUNT_ID

ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ACCOUNT_SETTING = "aws:apigateway/account:Account"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"


@pytest.fixture(scope="module")
def prod() -> Run:
    return run_program(prod_config())


def _trust(role: Any) -> dict[str, Any]:
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    return dict(statement)


def test_every_trust_policy_names_the_account_and_the_caller_or_a_reason(prod: Run) -> None:
    roles = prod.of_type(ROLE)
    services = set()
    for role in roles:
        statement = _trust(role)
        service = statement["Principal"]["Service"]
        services.add(service)
        if service in UNCONDITIONED_PRINCIPALS:
            assert "Condition" not in statement, role.name
            assert len(UNCONDITIONED_PRINCIPALS[service]) > 40, "each exception gives its reason"
            continue
        condition = statement["Condition"]
        assert condition["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}, role.name
        if service in SOURCE_ARN_EXCEPTIONS:
            assert set(condition) == {"StringEquals"}, role.name
            assert len(SOURCE_ARN_EXCEPTIONS[service]) > 40, "each exception gives its reason"
        else:
            assert set(condition) == {"StringEquals", "ArnLike"}, role.name
            assert condition["ArnLike"]["aws:SourceArn"].startswith("arn:aws:"), role.name
    # Lambda, Step Functions and API Gateway's logging role: each one's policy is checked above.
    assert services == {"lambda.amazonaws.com", "states.amazonaws.com", "apigateway.amazonaws.com"}


def test_each_state_machine_role_is_assumable_for_its_own_state_machine_only(prod: Run) -> None:
    machines = prod.of_type(STATE_MACHINE)
    assert len(machines) == 2
    roles = {role.urn: role for role in prod.of_type(ROLE)}
    patterns = {}
    for machine in machines:
        (role_urn,) = machine.property_dependencies["roleArn"]
        statement = _trust(roles[role_urn])
        assert statement["Principal"]["Service"] == "states.amazonaws.com"
        pattern = statement["Condition"]["ArnLike"]["aws:SourceArn"]
        region = machine.inputs["region"]
        assert pattern.startswith(f"arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:"), pattern
        # The state machine's own (auto-generated) ARN matches its role's pattern...
        assert fnmatch.fnmatchcase(machine.outputs["arn"], pattern), (machine.outputs, pattern)
        patterns[region] = pattern
    # ...and no other region's does.
    for machine in machines:
        others = [p for region, p in patterns.items() if region != machine.inputs["region"]]
        assert not any(fnmatch.fnmatchcase(machine.outputs["arn"], p) for p in others)


def test_the_account_logging_role_is_retained_with_the_setting_that_points_at_it(
    prod: Run,
) -> None:
    settings = prod.of_type(ACCOUNT_SETTING)
    assert settings and all(setting.retain_on_delete for setting in settings)
    (role,) = [role for role in prod.of_type(ROLE) if role.name.endswith("-apigw-logging")]
    assert role.retain_on_delete, "the account setting outlives the stack: so must its role"
    for setting in settings:
        assert setting.property_dependencies["cloudwatchRoleArn"] == [role.urn]
    (attachment,) = [a for a in prod.of_type(ATTACHMENT) if a.name.endswith("-apigw-logging")]
    assert attachment.retain_on_delete
    assert attachment.property_dependencies["role"] == [role.urn]
    # Nothing else of the stack is retained by accident: function roles go with the stack.
    assert not any(r.retain_on_delete for r in prod.of_type(ROLE) if r is not role)


def test_a_new_principal_needs_a_source_arn_or_a_documented_exception() -> None:
    with pytest.raises(ValueError, match=r"events\.amazonaws\.com needs source_account"):
        assume_role_policy("events.amazonaws.com")
    with pytest.raises(ValueError, match="drop the conditions or the entry"):
        assume_role_policy("apigateway.amazonaws.com", source_account="123456789012")
    with pytest.raises(ValueError, match=r"events\.amazonaws\.com needs source_arn"):
        assume_role_policy("events.amazonaws.com", source_account="123456789012")
    with pytest.raises(ValueError, match="drop source_arn or the exception"):
        assume_role_policy(
            "lambda.amazonaws.com",
            source_account="123456789012",
            source_arn="arn:aws:lambda:eu-west-1:123456789012:function:x-*",
        )


@pytest.mark.parametrize("runtime", ["python3.9", "python3.10", "python3.8", "nodejs20.x"])
def test_function_args_refuse_runtimes_the_handlers_do_not_run_on(runtime: str) -> None:
    args = FunctionArgs(handler="app.handler", code=None, runtime=runtime)
    with pytest.raises(ValueError) as caught:
        args.validate()
    message = str(caught.value)
    assert message.startswith(f"FunctionArgs.runtime: {runtime!r}")
    assert ", ".join(HANDLER_RUNTIMES) in message


def test_function_args_take_every_handler_runtime(run_components: Callable[..., Run]) -> None:
    assert HANDLER_RUNTIMES[0] == "python3.11"
    for runtime in HANDLER_RUNTIMES:
        FunctionArgs(handler="app.handler", code=None, runtime=runtime).validate()

    def build() -> Function:
        import pulumi

        code = pulumi.AssetArchive({"app.py": pulumi.StringAsset("def handler(e, c): ...\n")})
        return Function(
            "fn",
            FunctionArgs(handler="app.handler", code=code, runtime="python3.11"),
            region="eu-west-1",
        )

    run = run_components(build)
    (function,) = run.of_type("aws:lambda/function:Function")
    assert function.inputs["runtime"] == "python3.11"
