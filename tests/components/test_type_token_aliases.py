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
#: the tokens): the certificate expiry alarms, the one shared certificate validation record, per
#: region Route53's probe route (its generated secret, path, method, integration, throttle) and
#: the saga's compensation-failure alarm and metric filter.
NEW_SINCE_RECORDING = sorted(
    [
        "tasks-certificate-validation",
        *(
            f"tasks-{region}-{suffix}"
            for region in ("us-east-1", "eu-west-1")
            for suffix in (
                "api-cert-expiry",
                "api-health-probe-token",
                "api-health-probe-path",
                "api-health-probe-method",
                "api-health-probe-integration",
                "api-health-probe-throttling",
                "saga-compensation-failed",
                "saga-compensation-failures",
            )
        ),
    ]
)
#: Resources of the recording the program no longer has: the per-region copies of the
#: certificate validation record, which the one shared record replaced (that version was never
#: deployed, so nothing carries them over).
GONE_SINCE_RECORDING = sorted(
    urn for urn in RECORDED["urns"] if urn.endswith("-api-cert-validation")
)


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
    # Only what is new since the recording. Everything else is found.
    assert created == NEW_SINCE_RECORDING, f"{len(created)} registrations would be created"
    claims = Counter(old for old in matched.values() if old is not None)
    assert len(GONE_SINCE_RECORDING) == 2
    assert set(claims) == set(RECORDED["urns"]) - set(GONE_SINCE_RECORDING)
    assert max(claims.values()) == 1
    recorded_still_there = len(RECORDED["urns"]) - len(GONE_SINCE_RECORDING)
    assert len(goals) == recorded_still_there + len(NEW_SINCE_RECORDING) == 171
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
    # No child has an alias of its own: only renamed types are carried over.
    assert [goal.name for goal in children if goal.aliases] == []


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
