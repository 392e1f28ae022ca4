"""The API Gateway integrations a REST API declares in its OpenAPI `body`.

A RestApi can be defined entirely by an OpenAPI document (JSON or YAML, as a string) whose
operations carry `x-amazon-apigateway-integration` objects: `type`, `uri` (for Lambda, the
function's invoke ARN) and `timeoutInMillis` (API Gateway's default, 29 s, when absent). Those
integrations never appear as `aws:apigateway/integration:Integration` resources.

JSON is read with the standard library. YAML is read with PyYAML, imported only when a body is
not JSON (the pack's requirements do not list it; the Pulumi SDK depends on it, so it is there in
practice). Without it, a tolerant line scanner reads block-style YAML: the integration objects'
`type`, `uri` and `timeoutInMillis`, which is all the rules need.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

#: The OpenAPI extension that holds an operation's integration.
INTEGRATION_KEY: Final[str] = "x-amazon-apigateway-integration"
_SCANNED_KEYS: Final[frozenset[str]] = frozenset({"type", "uri", "timeoutInMillis", "httpMethod"})
_KEY_LINE: Final = re.compile(
    r"^(?P<indent> *)(?:- +)?(?P<key>[^\s:#][^:#]*?|'[^']*'|\"[^\"]*\")"
    r" *:(?: +(?P<value>.*?))? *$"
)


@dataclass(frozen=True)
class BodyIntegration:
    """One `x-amazon-apigateway-integration` of an OpenAPI document."""

    #: Where it is declared, e.g. "POST /tasks".
    where: str
    #: The integration object as read: `type`, `uri`, `timeoutInMillis` (strings when scanned).
    settings: dict[str, Any]


def parse_body(text: str, *, allow_yaml: bool = True) -> tuple[list[BodyIntegration], bool]:
    """(the integrations, whether the whole document was parsed) of an OpenAPI body.

    The second value is False when only the fallback scanner read it (YAML without PyYAML, or a
    document neither parser accepts): integrations it could not see may exist.
    """
    document: Any = None
    try:
        document = json.loads(text)
    except ValueError:
        document = _yaml(text) if allow_yaml else None
    if isinstance(document, dict):
        return list(_walk(document, ())), True
    return _scan(text), False


def _yaml(text: str) -> Any:
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        return None
    try:
        return yaml.safe_load(text)
    except Exception:  # any YAML error: fall back to the scanner
        return None


def _label(path: tuple[str, ...]) -> str:
    """ "POST /tasks" for ("paths", "/tasks", "post"); the joined path otherwise."""
    if len(path) >= 3 and path[0] == "paths":
        method = path[2].upper().replace("X-AMAZON-APIGATEWAY-ANY-METHOD", "ANY")
        return f"{method} {path[1]}"
    return "/".join(path) or "(document root)"


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[BodyIntegration]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == INTEGRATION_KEY and isinstance(value, dict):
                yield BodyIntegration(_label(path), dict(value))
            else:
                yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, path)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return re.sub(r"\s+#.*$", "", value)


def _scan(text: str) -> list[BodyIntegration]:
    """Block-style YAML, read by indentation: the scalars directly under each integration key."""
    found: list[BodyIntegration] = []
    parents: list[tuple[int, str]] = []  # (indent, key) of the enclosing mappings
    # The open integration: its key's indent, its first child's indent, its settings, where.
    current: tuple[int, list[int], dict[str, Any], str] | None = None
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        indent = len(match.group("indent"))
        key = _unquote(match.group("key"))
        value = match.group("value")
        if current is not None and indent <= current[0]:
            found.append(BodyIntegration(current[3], current[2]))
            current = None
        if current is not None:
            child_indent = current[1]
            if not child_indent:
                child_indent.append(indent)
            # Only the integration's own keys: `type` or `uri` deeper down (in its responses,
            # say) belong to something else.
            if indent == child_indent[0] and key in _SCANNED_KEYS and value:
                current[2].setdefault(key, _unquote(value))
            continue
        while parents and parents[-1][0] >= indent:
            parents.pop()
        if key == INTEGRATION_KEY and not value:
            current = (indent, [], {}, _label(tuple(name for _, name in parents)))
        elif not value:
            parents.append((indent, key))
    if current is not None:
        found.append(BodyIntegration(current[3], current[2]))
    return found
