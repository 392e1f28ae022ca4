"""Changing the components' type tokens replaces nothing in a deployed stack.

`old_token_urns.json` holds the URNs the prod program registered with the previous tokens
(`resilient-serverless:<module>:<Name>`), recorded from the program at commit ce0214d with the
engine's URN scheme (`urn_model.goals`). Every resource's URN contains its ancestors' types, so
the new tokens (`resilient-serverless:index:<Name>`) change all of them. Each component sends an
alias from its previous token; the engine derives its children's aliases from the alias the
component was matched by. `urn_model` mirrors how the engine does that (its sources are cited
there); its own tests below are the engine's `TestGenerateAliases` cases.
"""

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pulumi
import pytest
import urn_model
from harness import Run
from resilient_serverless import GlobalTable, GlobalTableArgs
from urn_model import AliasSpec, Goal, StepGenerator, create_urn

RECORDED = json.loads(Path(__file__).with_name("old_token_urns.json").read_text())
#: Resources the prod program gained after the recording (a new resource is a create, whatever
#: the tokens): the certificate expiry alarms.
NEW_SINCE_RECORDING = ["tasks-eu-west-1-api-cert-expiry", "tasks-us-east-1-api-cert-expiry"]


def _prod_goals(run: Run) -> list[Goal]:
    return urn_model.goals(run.resources, stack=RECORDED["stack"], project=RECORDED["project"])


def _generator() -> StepGenerator:
    return StepGenerator(
        project=RECORDED["project"], stack=RECORDED["stack"], olds=frozenset(RECORDED["urns"])
    )


def test_every_old_resource_is_claimed_by_exactly_one_new_registration(prod_run: Run) -> None:
    goals = _prod_goals(prod_run)
    generator = _generator()
    matched = generator.run(goals)

    assert generator.errors == []
    created = sorted(urn.rsplit("::", 1)[1] for urn, old in matched.items() if old is None)
    # Only what is new since the recording: each certificate's expiry alarm. Everything else,
    # the shared certificate validation record included (it takes over the first region's old
    # record through its own alias, under the parent's new token), is found.
    assert created == NEW_SINCE_RECORDING, f"{len(created)} registrations would be created"
    claims = Counter(old for old in matched.values() if old is not None)
    assert set(claims) == set(RECORDED["urns"])
    assert max(claims.values()) == 1
    assert len(goals) == len(RECORDED["urns"]) + len(NEW_SINCE_RECORDING) == 158
    # The tokens did change every URN: each resource is found through an alias.
    assert not set(matched) & set(RECORDED["urns"])
    assert all(old != urn for urn, old in matched.items() if old is not None)


def test_components_alias_only_their_previous_token(prod_run: Run) -> None:
    components = [goal for goal in _prod_goals(prod_run) if goal.type.startswith("resilient-")]
    assert len(components) == 19
    for goal in components:
        assert goal.type.startswith("resilient-serverless:index:")
        assert len(goal.aliases) == 1, goal.urn
        (alias,) = goal.aliases
        assert alias.type.split(":")[2] == goal.type.split(":")[2]
        assert alias.type != goal.type and not alias.name and not alias.parent
    children = [goal for goal in _prod_goals(prod_run) if not goal.type.startswith("resilient-")]
    # One child has an alias of its own: the shared certificate validation record takes over the
    # first region's earlier record (regional_api.SharedCertificateValidation).
    aliased = {goal.name: goal.aliases for goal in children if goal.aliases}
    assert set(aliased) == {"tasks-certificate-validation"}
    (alias,) = aliased["tasks-certificate-validation"]
    assert alias.name == "tasks-us-east-1-api-cert-validation"


def test_without_the_aliases_everything_would_be_replaced(prod_run: Run) -> None:
    """The check above depends on the aliases: without them no URN matches."""
    goals = [
        Goal(urn=g.urn, name=g.name, type=g.type, parent=g.parent) for g in _prod_goals(prod_run)
    ]
    matched = _generator().run(goals)
    assert all(old is None for old in matched.values())


def test_a_callers_own_alias_is_kept(run_components: Callable[..., Run]) -> None:
    run = run_components(
        lambda: GlobalTable(
            "orders",
            GlobalTableArgs(regions=["us-east-1"]),
            opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="orders-old")]),
        )
    )
    component = run.named("orders")
    specs = [AliasSpec.from_proto_dict(alias) for alias in component.aliases]
    assert AliasSpec(name="orders-old") in specs
    assert AliasSpec(type="resilient-serverless:dynamodb:GlobalTable") in specs


# -- the model against the engine's own cases (TestGenerateAliases, step_generator_test.go) --

PROJECT, STACK = "project", "stack"
PARENT = create_urn("myres", "test:resource:type", "", PROJECT, STACK)
PARENT_TYPE_ALIAS = create_urn("myres", "test:resource:type2", "", PROJECT, STACK)
PARENT_NAME_ALIAS = create_urn("myres2", "test:resource:type", "", PROJECT, STACK)
ORIGINAL_PARENT = create_urn("originalparent", "test:resource:original", "", PROJECT, STACK)
BASE = "urn:pulumi:stack::project::"


@pytest.mark.parametrize(
    ("parent_alias", "child_aliases", "expected"),
    [
        (None, [], []),
        (
            None,
            [AliasSpec(type="test:resource:child2")],
            [BASE + "test:resource:type$test:resource:child2::myres-child"],
        ),
        (
            None,
            [AliasSpec(name="child2")],
            [BASE + "test:resource:type$test:resource:child::child2"],
        ),
        (
            None,
            [AliasSpec(type="test:resource:child2", no_parent=True)],
            [BASE + "test:resource:child2::myres-child"],
        ),
        (
            None,
            [AliasSpec(type="test:resource:child2", parent=ORIGINAL_PARENT)],
            [BASE + "test:resource:original$test:resource:child2::myres-child"],
        ),
        (
            PARENT_TYPE_ALIAS,
            [AliasSpec(name="myres-child2")],
            [
                BASE + "test:resource:type$test:resource:child::myres-child2",
                BASE + "test:resource:type2$test:resource:child::myres-child",
                BASE + "test:resource:type2$test:resource:child::myres-child2",
            ],
        ),
        (
            PARENT_NAME_ALIAS,
            [AliasSpec(name="myres-child2")],
            [
                BASE + "test:resource:type$test:resource:child::myres-child2",
                BASE + "test:resource:type$test:resource:child::myres2-child",
                BASE + "test:resource:type$test:resource:child::myres2-child2",
            ],
        ),
    ],
    ids=[
        "no aliases",
        "child type alias",
        "child name alias",
        "child type alias, no parent",
        "child type alias, other parent",
        "child name alias, parent type alias",
        "child name alias, parent name alias",
    ],
)
def test_model_generates_the_engines_aliases(
    parent_alias: str | None, child_aliases: list[AliasSpec], expected: list[str]
) -> None:
    generator = StepGenerator(project=PROJECT, stack=STACK, olds=frozenset())
    if parent_alias is not None:
        generator.aliases[PARENT] = parent_alias
    actual = generator.generate_aliases("myres-child", "test:resource:child", PARENT, child_aliases)
    assert actual == expected
