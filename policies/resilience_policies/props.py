"""Reading resource properties without tripping the SDK's unknown-value trap.

The SDK hands a policy its properties wrapped in `unknown_checking_proxy`: reading an unknown
value (and even `in`, `.get()` or `dict()` over a mapping that holds one) raises
`UnknownValueError`, which the SDK turns into an advisory "can't run policy ... during preview"
instead of a verdict. During the preview of a new stack every ARN, name and URL is unknown, so
a rule that reads props naively says nothing exactly when it matters.

This module unwraps the proxies once, keeps the engine's unknown sentinels as plain strings, and
reads values as one of three things: ABSENT (the program did not set it), UNKNOWN (the program
set it to something computed: present, value not known yet) or the value itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pulumi_policy import Secret
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    unknown_checking_proxy,
)

#: Every sentinel the engine uses for "computed, not known during preview".
UNKNOWN_SENTINELS: Final[frozenset[str]] = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)

# Both SDK proxies (unknown checking and secrets preserving) hand out their wrapped container
# under this key; it is how the SDK's own serializer unwraps them.
_PROXY_TARGET_KEY: Final[str] = "__target"


class Marker:
    """A reading that is not a value: ABSENT or UNKNOWN. Never truthy by accident."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return self.label

    def __bool__(self) -> bool:
        raise TypeError(f"{self.label} is not a boolean; compare with `is ABSENT`/`is UNKNOWN`")


#: The program did not set the property (or set it to null).
ABSENT: Final[Marker] = Marker("ABSENT")
#: The program set the property to a value computed from another resource's output.
UNKNOWN: Final[Marker] = Marker("UNKNOWN")


def is_unknown_sentinel(value: object) -> bool:
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


class RawBackedProps(Mapping[str, Any]):
    """Properties kept raw for this pack's rules, proxied lazily for anyone else.

    Reading through the Mapping interface behaves exactly like the SDK's
    `unknown_checking_proxy` (it raises on unknowns); `plain()` returns the raw dict without
    building the proxy at all, which is what makes a 10 000-resource stack cheap to analyze.
    """

    __slots__ = ("_proxy", "raw")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self._proxy: Mapping[str, Any] | None = None

    def _view(self) -> Mapping[str, Any]:
        if self._proxy is None:
            self._proxy = unknown_checking_proxy(self.raw)
        return self._proxy

    def __getitem__(self, key: str) -> Any:
        return self._view()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)


def plain(value: Any, *, keep_secrets: bool = False) -> Any:
    """`value` with every SDK proxy removed, recursively. Unknown sentinels stay as strings.

    Secrets (present only in the Remediate RPC's properties) are unwrapped to their value unless
    `keep_secrets` is set: a remediation must hand secrets back as secrets.
    """
    if isinstance(value, RawBackedProps):
        # Deserialized fresh for this request, free of proxies and secrets: no copy needed.
        return value.raw
    if isinstance(value, dict):
        return {key: plain(item, keep_secrets=keep_secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item, keep_secrets=keep_secrets) for item in value]
    if isinstance(value, Secret):
        return value if keep_secrets else plain(value.value)
    if isinstance(value, Mapping):
        return plain(_proxy_target(value, dict), keep_secrets=keep_secrets)
    if (
        hasattr(value, "__len__")
        and hasattr(value, "__getitem__")
        and not isinstance(value, (str, bytes))
    ):
        return plain(_proxy_target(value, list), keep_secrets=keep_secrets)
    return value


def _proxy_target(proxy: Any, kind: type) -> Any:
    try:
        target = proxy[_PROXY_TARGET_KEY]
    except (KeyError, IndexError, TypeError):
        target = None
    if isinstance(target, kind):
        return target
    # Not an SDK proxy: copy what can be read without touching unknown values.
    if kind is dict:
        return {key: proxy[key] for key in list(proxy.keys())}
    return [proxy[index] for index in range(len(proxy))]


def at(container: Any, *path: str | int) -> Any:
    """The value at `path` inside plain data, or ABSENT / UNKNOWN.

    Anything below an unknown is unknown (the program asked for it, its shape is not known yet);
    anything below an absent value, a null or a value of the wrong shape is absent.
    """
    current = container
    for step in path:
        if is_unknown_sentinel(current):
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                return ABSENT
            current = current[step]
        else:
            if not isinstance(current, dict) or step not in current:
                return ABSENT
            current = current[step]
    if current is None:
        return ABSENT
    if is_unknown_sentinel(current):
        return UNKNOWN
    return current


def number(container: Any, *path: str | int) -> float | Marker:
    """A number at `path`. A value that is not a number cannot be judged: UNKNOWN."""
    value = at(container, *path)
    if isinstance(value, Marker):
        return value
    if isinstance(value, bool):
        return UNKNOWN
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return UNKNOWN
    return UNKNOWN


def flag(container: Any, *path: str | int) -> bool | Marker:
    """A boolean at `path` ("true"/"false" strings count, as the engine may send either)."""
    value = at(container, *path)
    if isinstance(value, (Marker, bool)):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return UNKNOWN


def text(container: Any, *path: str | int) -> str | Marker:
    """A string at `path`; the empty string counts as absent (how unset strings arrive)."""
    value = at(container, *path)
    if isinstance(value, Marker):
        return value
    if isinstance(value, str):
        return value if value else ABSENT
    return UNKNOWN


def items(container: Any, *path: str | int) -> list[Any] | Marker:
    """A list at `path`. A single scalar counts as a one-element list (IAM style)."""
    value = at(container, *path)
    if isinstance(value, Marker):
        return value
    if isinstance(value, list):
        return value
    return [value]


def json_document(container: Any, *path: str | int) -> Any:
    """A JSON-string property (redrivePolicy, an IAM policy) parsed, or ABSENT / UNKNOWN.

    A JSON string built from another resource's output is unknown as a whole during preview.
    Returns None when the string is not valid JSON (AWS would refuse it; the caller says so).
    """
    value = at(container, *path)
    if isinstance(value, Marker):
        return value
    if isinstance(value, (dict, list)):
        return value  # some programs pass the document as an object
    if not isinstance(value, str):
        return None
    if not value.strip():
        return ABSENT
    if any(sentinel in value for sentinel in UNKNOWN_SENTINELS):
        return UNKNOWN
    try:
        return json.loads(value)
    except ValueError:
        return None


#: The Terraform bridge's bookkeeping key inside each nested block of the checked inputs.
_DEFAULTS_KEY: Final[str] = "__defaults"


def program_view(checked_inputs: Mapping[str, Any] | None, state: dict[str, Any]) -> dict[str, Any]:
    """A resource as the rules read it: what the program set, told apart from what the provider
    computes.

    In AnalyzeStack the engine sends each resource's state: at preview, the provider's plan,
    where a property the program never set but the provider computes (a queue's
    `redrivePolicy`, a mapping's `maximumRetryAttempts`) is as unknown as one the program set
    from another resource's output, and a map or list holding one unknown is unknown as a
    whole. Analyze, earlier in the same process, got the checked inputs, which say what the
    program set. So: a property missing from the inputs whose state is unknown is ABSENT (the
    provider will compute it); a property the program set reads from the state where the state
    knows it and from the inputs where it does not (the inputs keep the known parts of a map the
    plan blanked). Without inputs (no Analyze call for this resource), the state as it is.
    """
    if checked_inputs is None:
        return state
    return _merge_block(checked_inputs, state)


def _merge_block(inputs: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, planned in state.items():
        if key == _DEFAULTS_KEY:
            continue
        if key in inputs:
            merged[key] = _merge_value(inputs[key], planned)
        elif not is_unknown_sentinel(planned):
            merged[key] = planned
    for key, value in inputs.items():
        if key not in state and key != _DEFAULTS_KEY:
            merged[key] = _merge_value(value, None)
    return merged


def _merge_value(given: Any, planned: Any) -> Any:
    if planned is None or is_unknown_sentinel(planned):
        if isinstance(given, dict):
            return _merge_block(given, {})
        if isinstance(given, list):
            return [_merge_value(item, None) for item in given]
        return given
    if isinstance(given, dict) and isinstance(planned, dict):
        return _merge_block(given, planned)
    if isinstance(given, list) and isinstance(planned, list) and len(given) == len(planned):
        return [_merge_value(a, b) for a, b in zip(given, planned, strict=True)]
    return planned


def describe(value: Any) -> str:
    """How a reading reads in a message."""
    if value is ABSENT:
        return "not set"
    if value is UNKNOWN:
        return "not known until the resources it depends on exist"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def whole(value: float) -> int | float:
    """Render a float that holds a whole number without the `.0`."""
    return int(value) if float(value).is_integer() else value
