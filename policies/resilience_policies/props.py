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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, Protocol

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


# --- checks deferred to `pulumi up` ------------------------------------------------------------


#: How every deferred-check message starts. The analyzer (server.py) sends such a finding as
#: advisory whatever its policy's level, and reports read it to list the deferred checks.
DEFERRED_MARKER: Final[str] = "Decided at `pulumi up`: "


@dataclass(frozen=True)
class Deferral:
    """A check a rule could not decide because a value it compares is unknown at preview."""

    urn: str
    name: str
    type: str
    #: The property, as a path: `definition`, `redrivePolicy`, `loggingConfiguration.level`.
    prop: str


class Owner(Protocol):
    """Whose properties a container is: what a deferral names (a stack model resource, or the
    resource a resource policy is analysing)."""

    @property
    def urn(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...


OwnerOf = Callable[[Any], Owner | None]


class DeferralLedger:
    """The deferrals one rule's check met, in the order it met them, each once."""

    __slots__ = ("_found", "owner_of")

    def __init__(self, owner_of: OwnerOf) -> None:
        self.owner_of = owner_of
        self._found: dict[tuple[str, str], Deferral] = {}

    def add(self, owner: Owner, prop: str) -> None:
        key = (owner.urn, prop)
        if key not in self._found:
            self._found[key] = Deferral(owner.urn, owner.name, owner.type, prop)

    @property
    def found(self) -> list[Deferral]:
        return list(self._found.values())


_LEDGER: ContextVar[DeferralLedger | None] = ContextVar("resilience_deferrals", default=None)


@contextmanager
def deferrals(owner_of: OwnerOf) -> Iterator[DeferralLedger]:
    """Collect, while a rule checks, every value it needed to compare and found unknown.

    The readers that compare (`number`, `flag`, `json_document`) note an UNKNOWN reading of a
    resource's own properties here (`owner_of` says whose they are); the stack model notes the
    unknown documents and regions it hands out (model.py). Presence checks (`at`, `text`,
    `items`) note nothing: an unknown value is present, and that is decided.
    """
    ledger = DeferralLedger(owner_of)
    token = _LEDGER.set(ledger)
    try:
        yield ledger
    finally:
        _LEDGER.reset(token)


def path_label(path: tuple[str | int, ...]) -> str:
    label = ""
    for step in path:
        label += f"[{step}]" if isinstance(step, int) else (f".{step}" if label else step)
    return label


def defer(container: Any, *path: str | int) -> None:
    """Note that the value at `path` of `container` (a resource's properties) was needed and is
    unknown. Does nothing outside a rule's check or for a container that is no resource's."""
    ledger = _LEDGER.get()
    if ledger is None or not path:
        return
    owner = ledger.owner_of(container)
    if owner is not None:
        ledger.add(owner, path_label(path))


def defer_owner(owner: Owner, prop: str) -> None:
    """`defer` for a reading whose owner is already known (the stack model's derived facts)."""
    ledger = _LEDGER.get()
    if ledger is not None:
        ledger.add(owner, prop)


def deferred_message(policy: str, deferral: Deferral) -> str:
    kind = deferral.type.rsplit(":", 1)[-1] if ":" in deferral.type else deferral.type
    return (
        f"{DEFERRED_MARKER}{policy} needs `{deferral.prop}` of {kind} '{deferral.name}', "
        "which is unknown at preview (computed from another resource's output). The check runs "
        "when `pulumi up` knows the value, and a violation then stops the update part-way."
    )


def is_deferred_message(message: str, description: str = "") -> bool:
    """True when a violation message (with or without the SDK's description line in front)
    reports a deferred check."""
    own = message.strip()
    description = description.strip()
    if description and own.startswith(description):
        own = own[len(description) :].lstrip()
    return own.startswith(DEFERRED_MARKER) or (
        own.startswith("Exempt (") and DEFERRED_MARKER in own
    )


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
        if value is UNKNOWN:
            defer(container, *path)
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
    if value is UNKNOWN:
        defer(container, *path)
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


def json_document(container: Any, *path: str | int, note: bool = True) -> Any:
    """A JSON-string property (redrivePolicy, an IAM policy) parsed, or ABSENT / UNKNOWN.

    A JSON string built from another resource's output is unknown as a whole during preview
    (noted as a deferred check unless `note` is off: the stack model notes its documents when
    a rule reads them). Returns None when the string is not valid JSON (AWS would refuse it;
    the caller says so).
    """
    value = at(container, *path)
    if isinstance(value, Marker):
        if value is UNKNOWN and note:
            defer(container, *path)
        return value
    if isinstance(value, (dict, list)):
        return value  # some programs pass the document as an object
    if not isinstance(value, str):
        return None
    if not value.strip():
        return ABSENT
    if any(sentinel in value for sentinel in UNKNOWN_SENTINELS):
        if note:
            defer(container, *path)
        return UNKNOWN
    try:
        return json.loads(value)
    except ValueError:
        return None


#: The Terraform bridge's bookkeeping key inside each nested block of the checked inputs.
DEFAULTS_KEY: Final[str] = "__defaults"


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
    return merge_block(checked_inputs, state)


def merge_block(inputs: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, planned in state.items():
        if key == DEFAULTS_KEY:
            continue
        if key in inputs:
            merged[key] = merge_value(inputs[key], planned)
        elif not is_unknown_sentinel(planned):
            merged[key] = planned
    for key, value in inputs.items():
        if key not in state and key != DEFAULTS_KEY:
            merged[key] = merge_value(value, None)
    return merged


def merge_value(given: Any, planned: Any) -> Any:
    if planned is None or is_unknown_sentinel(planned):
        if isinstance(given, dict):
            return merge_block(given, {})
        if isinstance(given, list):
            return [merge_value(item, None) for item in given]
        return given
    if isinstance(given, dict) and isinstance(planned, dict):
        return merge_block(given, planned)
    if isinstance(given, list) and isinstance(planned, list) and len(given) == len(planned):
        return [merge_value(a, b) for a, b in zip(given, planned, strict=True)]
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
