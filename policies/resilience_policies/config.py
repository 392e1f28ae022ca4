"""Policy configuration: one declared schema per policy, its defaults, and validation.

The SDK passes a policy's configuration through without looking at it, so a typo or a string
where a number belongs would otherwise surface as a crash (or worse, a silently ignored value)
in the middle of an analysis. Each policy declares its settings here once; the same declaration
produces the JSON schema the engine shows and validates against, the defaults, and the checks
this pack runs itself when the engine sends the configuration (the Configure RPC).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pulumi_policy import PolicyConfigSchema

from .exemptions import EXEMPTIONS_KEY, Exemption, parse_exemptions

SettingKind = Literal["integer", "number", "boolean", "string", "string_list"]

#: The engine's own key inside a policy's config object; never one of the policy's settings.
ENFORCEMENT_LEVEL_KEY: Final[str] = "enforcementLevel"

_JSON_TYPES: Final[dict[str, str]] = {
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "string": "string",
    "string_list": "array",
}


class PolicyConfigError(ValueError):
    """One or more configuration problems, each naming the policy, the key and the fix."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Setting:
    """One configuration key of one policy."""

    key: str
    kind: SettingKind
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    #: Allowed values (for string lists: allowed items). None: any value of the kind.
    choices: tuple[Any, ...] | None = None

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": _JSON_TYPES[self.kind],
            "default": list(self.default) if self.kind == "string_list" else self.default,
            "description": self.description,
        }
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.kind == "string_list":
            item: dict[str, Any] = {"type": "string", "minLength": 1}
            if self.choices is not None:
                item["enum"] = list(self.choices)
            schema["items"] = item
        elif self.choices is not None:
            schema["enum"] = list(self.choices)
        elif self.kind == "string":
            schema["minLength"] = 1
        return schema

    def expectation(self) -> str:
        """What a valid value looks like, in words."""
        noun = {
            "integer": "a whole number",
            "number": "a number",
            "boolean": "true or false",
            "string": "a non-empty string",
            "string_list": "a list of non-empty strings",
        }[self.kind]
        if self.minimum is not None and self.maximum is not None:
            noun += f" from {_show(self.minimum)} to {_show(self.maximum)}"
        elif self.minimum is not None:
            noun += f" of at least {_show(self.minimum)}"
        elif self.maximum is not None:
            noun += f" of at most {_show(self.maximum)}"
        if self.choices is not None:
            noun += f" ({'items ' if self.kind == 'string_list' else ''}one of "
            noun += ", ".join(json.dumps(choice) for choice in self.choices) + ")"
        return noun

    def coerce(self, value: Any) -> tuple[Any, str | None]:
        """(the typed value, None) or (None, why it is refused)."""
        if self.kind in ("integer", "number"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None, f"got {_show_input(value)}"
            if not math.isfinite(value):
                return None, f"got {value}"
            if self.kind == "integer":
                if not float(value).is_integer():
                    return None, f"got {value}, which is not whole"
                value = int(value)
            if self.minimum is not None and value < self.minimum:
                return None, f"got {_show(value)}"
            if self.maximum is not None and value > self.maximum:
                return None, f"got {_show(value)}"
        elif self.kind == "boolean":
            if not isinstance(value, bool):
                return None, f"got {_show_input(value)}"
        elif self.kind == "string":
            if not isinstance(value, str) or not value.strip():
                return None, f"got {_show_input(value)}"
        elif self.kind == "string_list":
            if not isinstance(value, list) or not all(
                isinstance(item, str) and item.strip() for item in value
            ):
                return None, f"got {_show_input(value)}"
            value = tuple(value)
            if self.choices is not None:
                unknown = [item for item in value if item not in self.choices]
                if unknown:
                    return None, f"got {', '.join(json.dumps(item) for item in unknown)}"
            return value, None
        if self.choices is not None and value not in self.choices:
            return None, f"got {_show_input(value)}"
        return value, None


CrossCheck = Callable[[Mapping[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True)
class ConfigSpec:
    """The settings of one policy, plus checks that relate settings to each other."""

    policy: str
    settings: tuple[Setting, ...] = ()
    #: Returns (key, problem-and-fix) pairs for values that are valid alone but not together.
    cross_checks: tuple[CrossCheck, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for setting in self.settings:
            _, problem = setting.coerce(
                list(setting.default) if setting.kind == "string_list" else setting.default
            )
            if problem is not None:
                raise AssertionError(f"{self.policy}.{setting.key}: default {problem}")

    @property
    def defaults(self) -> dict[str, Any]:
        return {setting.key: setting.default for setting in self.settings}

    def schema(self) -> PolicyConfigSchema | None:
        if not self.settings:
            return None
        return PolicyConfigSchema(
            properties={setting.key: setting.json_schema() for setting in self.settings}
        )

    def problems(self, raw: Mapping[str, Any] | None) -> list[str]:
        """Every problem with `raw`, one message each (empty when it is valid)."""
        _, problems = self._resolve(raw)
        return problems

    def exemptions(self, raw: Mapping[str, Any] | None) -> tuple[Exemption, ...]:
        """The resources this policy's config exempts (see exemptions.py). Raises
        PolicyConfigError when the entries are malformed."""
        value = (raw or {}).get(EXEMPTIONS_KEY)
        if value is None:
            return ()
        found, problems = parse_exemptions(value)
        if problems:
            raise PolicyConfigError(
                [f"policy '{self.policy}': config key '{EXEMPTIONS_KEY}' {p}." for p in problems]
            )
        return found

    def resolve(self, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        """The effective settings: defaults overlaid with `raw`. Raises PolicyConfigError."""
        values, problems = self._resolve(raw)
        if problems:
            raise PolicyConfigError(problems)
        return values

    def _resolve(self, raw: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
        given = dict(raw or {})
        given.pop(ENFORCEMENT_LEVEL_KEY, None)
        by_key = {setting.key: setting for setting in self.settings}
        problems: list[str] = []
        # Every policy takes `exemptions` besides its own settings. It is not one of them (not
        # in the schema, not in the resolved values): the shared glue applies it, not the rule.
        if EXEMPTIONS_KEY in given and EXEMPTIONS_KEY not in by_key:
            _, exemption_problems = parse_exemptions(given.pop(EXEMPTIONS_KEY))
            problems.extend(
                f"policy '{self.policy}': config key '{EXEMPTIONS_KEY}' {problem}."
                for problem in exemption_problems
            )
        for key in sorted(set(given) - set(by_key)):
            if by_key:
                known = ", ".join(f"'{name}'" for name in by_key)
                fix = f"remove it or fix its spelling (this policy's keys: {known})"
            else:
                fix = (
                    "remove it (this policy takes no settings besides enforcementLevel and "
                    f"{EXEMPTIONS_KEY})"
                )
            problems.append(f"policy '{self.policy}': unknown config key '{key}'; {fix}.")
        values: dict[str, Any] = {}
        for setting in self.settings:
            if setting.key not in given:
                default = setting.default
                values[setting.key] = tuple(default) if setting.kind == "string_list" else default
                continue
            typed, problem = setting.coerce(given[setting.key])
            if problem is not None:
                default = (
                    list(setting.default) if setting.kind == "string_list" else setting.default
                )
                problems.append(
                    f"policy '{self.policy}': config key '{setting.key}' must be "
                    f"{setting.expectation()}; {problem}. Fix: set '{setting.key}' to "
                    f"{setting.expectation().split(' (')[0]}, e.g. {json.dumps(default)} "
                    "(the default), or remove it."
                )
                continue
            values[setting.key] = typed
        if not problems:
            for check in self.cross_checks:
                for key, problem in check(values):
                    problems.append(f"policy '{self.policy}': config key '{key}' {problem}")
        return values, problems


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _show_input(value: Any) -> str:
    kind = {
        bool: "a boolean",
        str: "a string",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)
    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = repr(value)
    return f"{shown} ({kind})"
