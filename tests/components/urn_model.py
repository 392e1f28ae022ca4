"""How the Pulumi engine names resources and finds a resource's old state through aliases.

A small model of the engine, used to show that changing the components' type tokens replaces
nothing in a deployed stack. Pulumi's mocks are not enough for that: `MockMonitor.make_urn` puts
only the parent's last type into a child's URN (the engine puts the parent's whole type chain),
and the mocks never look aliases up. Each function cites what it mirrors, from pulumi/pulumi at
commit 1b5949891b3cefcb9974752b24a5ecef0acc86c8:

- `engine_urn`: `Deployment.generateURN` in pkg/resource/deploy/deployment.go and `urn.New` in
  sdk/go/common/resource/urn/urn.go (the parent's qualified type, unless it is the root stack,
  then `$`, then the type).
- `create_urn`: `CreateURN` in sdk/go/common/resource/alias.go.
- `AliasSpec`: what the Python SDK sends for `pulumi.Alias(...)` when the monitor supports alias
  specs (`prepare_aliases` / `create_alias_spec` in pulumi/runtime/resource.py of the pinned SDK;
  an unset parent is sent as an empty `parentUrn`), read by the engine as in
  pkg/resource/deploy/source_eval.go (an empty `parentUrn` means "the resource's own parent").
- `StepGenerator`: `collapseAliasToUrn`, `inheritedChildAlias`, `generateAliases` and
  `getOldResource` in pkg/resource/deploy/step_generator.go. A child inherits aliases only from
  the alias its parent was actually matched by (`sg.aliases[parent]`), and registrations are
  matched in the order the program makes them (a parent always before its children).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
_PREFIX = "urn:pulumi:"
_NAME_DELIMITER = "::"
_TYPE_DELIMITER = "$"


def _parts(urn: str) -> list[str]:
    """stack, project, qualified type, name (a name may itself contain '::')."""
    if not urn.startswith(_PREFIX):
        raise ValueError(f"not a URN: {urn!r}")
    return urn[len(_PREFIX) :].split(_NAME_DELIMITER, 3)


def qualified_type(urn: str) -> str:
    return _parts(urn)[2]


def urn_type(urn: str) -> str:
    return qualified_type(urn).rsplit(_TYPE_DELIMITER, 1)[-1]


def urn_name(urn: str) -> str:
    return _parts(urn)[3]


def new_urn(stack: str, project: str, parent_type: str, base_type: str, name: str) -> str:
    """urn.New."""
    typ = base_type
    if parent_type and parent_type != ROOT_STACK_TYPE:
        typ = parent_type + _TYPE_DELIMITER + typ
    return _PREFIX + _NAME_DELIMITER.join([stack, project, typ, name])


def engine_urn(stack: str, project: str, parent: str, typ: str, name: str) -> str:
    """Deployment.generateURN: the URN the engine gives a registration."""
    parent_type = ""
    if parent and qualified_type(parent) != ROOT_STACK_TYPE:
        parent_type = qualified_type(parent)
    return new_urn(stack, project, parent_type, typ, name)


def create_urn(name: str, typ: str, parent: str, project: str, stack: str) -> str:
    """CreateURN (alias.go): the parent's URN up to its name, then `$`, type and name."""
    if parent:
        index = parent.rfind(_NAME_DELIMITER)
        if index == -1:
            raise ValueError(f"parent {parent!r} has no '::'")
        prefix = parent[:index] + _TYPE_DELIMITER
    else:
        prefix = _PREFIX + stack + _NAME_DELIMITER + project + _NAME_DELIMITER
    return prefix + typ + _NAME_DELIMITER + name


@dataclass(frozen=True)
class AliasSpec:
    """resource.Alias as the engine parses it from the SDK's alias spec (or a plain URN)."""

    urn: str = ""
    name: str = ""
    type: str = ""
    project: str = ""
    stack: str = ""
    parent: str = ""
    no_parent: bool = False

    @classmethod
    def from_proto_dict(cls, alias: dict[str, object]) -> AliasSpec:
        """From `json_format.MessageToDict` of a `pulumirpc.Alias`."""
        if alias.get("urn"):
            return cls(urn=str(alias["urn"]))
        spec = alias.get("spec")
        if not isinstance(spec, dict):
            raise ValueError(f"alias without urn or spec: {alias!r}")
        return cls(
            name=str(spec.get("name", "")),
            type=str(spec.get("type", "")),
            project=str(spec.get("project", "")),
            stack=str(spec.get("stack", "")),
            parent=str(spec.get("parentUrn", "")),
            no_parent=bool(spec.get("noParent", False)),
        )


@dataclass(frozen=True)
class Goal:
    """One registration as the step generator sees it (engine URNs)."""

    urn: str
    name: str
    type: str
    parent: str
    aliases: tuple[AliasSpec, ...] = ()


@dataclass
class StepGenerator:
    """The part of the step generator that finds each goal's old state."""

    project: str
    stack: str
    olds: frozenset[str]
    #: new URN -> the old URN it was matched by through an alias (sg.aliases).
    aliases: dict[str, str] = field(default_factory=dict)
    #: old URN -> the new URN that claimed it (sg.aliased, plus direct URN matches).
    claimed: dict[str, str] = field(default_factory=dict)
    #: Problems the engine reports as errors (an old resource claimed twice).
    errors: list[str] = field(default_factory=list)

    def collapse_alias_to_urn(self, name: str, typ: str, parent: str, alias: AliasSpec) -> str:
        if alias.urn:
            return alias.urn
        n = alias.name or name
        t = alias.type or typ
        alias_parent = alias.parent
        if not alias_parent:
            alias_parent = parent
        elif alias_parent in self.aliases:
            alias_parent = self.aliases[alias_parent]
        parent_is_root_stack = (
            bool(alias_parent) and qualified_type(alias_parent) == ROOT_STACK_TYPE
        )
        if alias.no_parent or parent_is_root_stack:
            alias_parent = ""
        return create_urn(
            n, t, alias_parent, alias.project or self.project, alias.stack or self.stack
        )

    def inherited_child_alias(
        self, child_type: str, child_name: str, parent_name: str, parent_alias: str
    ) -> str:
        alias_name = child_name
        if child_name.startswith(parent_name):
            alias_name = urn_name(parent_alias) + child_name[len(parent_name) :]
        return new_urn(
            self.stack, self.project, qualified_type(parent_alias), child_type, alias_name
        )

    def generate_aliases(
        self, name: str, typ: str, parent: str, res_aliases: Sequence[AliasSpec]
    ) -> list[str]:
        result: list[str] = []

        def add(urn: str) -> None:
            if urn not in result:
                result.append(urn)

        for alias in res_aliases:
            add(self.collapse_alias_to_urn(name, typ, parent, alias))
        if parent and parent in self.aliases:
            parent_alias = self.aliases[parent]
            add(self.inherited_child_alias(typ, name, urn_name(parent), parent_alias))
            for alias in res_aliases:
                child_alias = self.collapse_alias_to_urn(name, typ, parent, alias)
                add(
                    self.inherited_child_alias(
                        urn_type(child_alias), urn_name(child_alias), urn_name(parent), parent_alias
                    )
                )
        return result

    def old_resource(self, goal: Goal) -> str | None:
        """getOldResource: the old URN this goal updates (itself first, then its aliases)."""
        for candidate in [
            goal.urn,
            *self.generate_aliases(goal.name, goal.type, goal.parent, goal.aliases),
        ]:
            if candidate not in self.olds:
                continue
            if candidate in self.claimed:
                self.errors.append(
                    f"{goal.urn} claims {candidate}, already claimed by {self.claimed[candidate]}"
                )
            self.claimed[candidate] = goal.urn
            if candidate != goal.urn:
                self.aliases[goal.urn] = candidate
            return candidate
        return None

    def run(self, goals: Iterable[Goal]) -> dict[str, str | None]:
        """Every goal's matched old URN (None: the engine would create it)."""
        return {goal.urn: self.old_resource(goal) for goal in goals}


def goals(registrations: Iterable[object], *, stack: str, project: str) -> list[Goal]:
    """The engine's view of recorded registrations (anything with `urn`, `type`, `name`,
    `parent` and `aliases` as the mock monitor recorded them), in registration order: URNs
    recomputed as the engine makes them, alias specs parsed as the engine parses them."""
    engine_urns: dict[str, str] = {}
    result: list[Goal] = []
    for registration in registrations:
        mock_urn: str = getattr(registration, "urn")  # noqa: B009
        parent_mock: str = getattr(registration, "parent")  # noqa: B009
        typ: str = getattr(registration, "type")  # noqa: B009
        name: str = getattr(registration, "name")  # noqa: B009
        parent = engine_urns.get(parent_mock, parent_mock)
        urn = engine_urn(stack, project, parent, typ, name)
        engine_urns[mock_urn] = urn
        specs = tuple(
            AliasSpec.from_proto_dict(alias) for alias in getattr(registration, "aliases", ())
        )
        result.append(Goal(urn=urn, name=name, type=typ, parent=parent, aliases=specs))
    return result
