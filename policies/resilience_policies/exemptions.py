"""Exempting one resource from one policy, with a reason, without hiding the finding.

A rule is right for a stack in general and sometimes wrong for one resource in it (a table that
is a per-region cache, a stream consumer whose retries are bounded elsewhere). Two ways to say
so, both naming the policy and giving the reason:

- a tag on the resource: key `resilience:exempt:<policy-name>`, value the reason. Tag keys and
  values accept letters, digits, spaces and `_.:/=+-@`, so the key is valid for every AWS
  resource that takes tags, and the reason must stay within those characters too;
- the policy's `exemptions` setting in the policy pack config: a list of
  `{"urn": <URN>, "reason": ...}` or `{"name": <logical name>, "reason": ...}`, for resources
  that take no tags or are not the program's to tag.

An exempted finding is still reported, at the advisory level, its message prefixed with
`Exempt (<reason>): `: the exemption stays visible in every preview (and in the offline report),
and it never fails a deployment. This module is standard library only: the pack's start-up and
the offline report both read it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

#: The config key every policy takes besides its own settings.
EXEMPTIONS_KEY: Final[str] = "exemptions"
#: Tag key prefix; the policy's name completes it.
EXEMPT_TAG_PREFIX: Final[str] = "resilience:exempt:"
#: How every exempted message starts (after the SDK's description line).
EXEMPT_MARKER: Final[str] = "Exempt ("
#: Properties that hold a resource's tags: the program's own, then the provider's merged view
#: (which adds the provider's default tags).
TAG_PROPERTIES: Final[tuple[str, ...]] = ("tags", "tagsAll")

_ENTRY_EXAMPLE: Final[str] = '{"name": "<resource name>", "reason": "<why it is exempt>"}'
_SELECTORS: Final[tuple[str, ...]] = ("urn", "name")


def tag_key(policy: str) -> str:
    """The tag key that exempts a resource from `policy`."""
    return f"{EXEMPT_TAG_PREFIX}{policy}"


def exempt_message(reason: str, message: str) -> str:
    return f"{EXEMPT_MARKER}{reason}): {message}"


def is_exempt_message(message: str, description: str = "") -> bool:
    """True when a violation message (with or without the SDK's description line in front)
    reports an exempted finding."""
    own = message.strip()
    description = description.strip()
    if description and own.startswith(description):
        own = own[len(description) :].lstrip()
    return own.startswith(EXEMPT_MARKER)


@dataclass(frozen=True)
class Exemption:
    """One config entry: the resource (by URN or by logical name) and why it is exempt."""

    reason: str
    urn: str | None = None
    name: str | None = None

    def matches(self, urn: str, name: str) -> bool:
        return (self.urn is not None and self.urn == urn) or (
            self.name is not None and self.name == name
        )


def parse_exemptions(value: Any) -> tuple[tuple[Exemption, ...], list[str]]:
    """(the entries, one "what is wrong; fix" sentence per problem) of an `exemptions` value."""
    if not isinstance(value, list):
        return (), [
            f"must be a list of objects like {_ENTRY_EXAMPLE}; got {_shown(value)}. Fix: wrap "
            "the entries in a list, or remove the key"
        ]
    found: list[Exemption] = []
    problems: list[str] = []
    for position, entry in enumerate(value, start=1):
        where = f"entry {position}"
        before = len(problems)
        if not isinstance(entry, Mapping):
            problems.append(f"{where} must be an object like {_ENTRY_EXAMPLE}; got {_shown(entry)}")
            continue
        extra = sorted(set(entry) - {*_SELECTORS, "reason"})
        if extra:
            problems.append(
                f"{where} has unknown key(s) {', '.join(repr(key) for key in extra)}; an entry "
                "takes 'urn' or 'name', and 'reason'"
            )
        selectors = [key for key in _SELECTORS if key in entry]
        if len(selectors) != 1:
            problems.append(
                f"{where} must name the resource by exactly one of 'urn' (the full URN) or "
                f"'name' (its logical name); got {'both' if selectors else 'neither'}"
            )
        for key in selectors:
            if not isinstance(entry[key], str) or not entry[key].strip():
                problems.append(f"{where}: '{key}' must be a non-empty string")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            problems.append(
                f"{where} has no 'reason': give one (a non-empty string), it is shown with "
                "every exempted finding"
            )
        if len(problems) > before:
            continue
        found.append(
            Exemption(
                reason=str(reason).strip(),
                urn=entry.get("urn"),
                name=entry.get("name"),
            )
        )
    return tuple(found), problems


def config_reason(exemptions: tuple[Exemption, ...], urn: str, name: str) -> str | None:
    for exemption in exemptions:
        if exemption.matches(urn, name):
            return exemption.reason
    return None


def _shown(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
