"""One definition of each component's args for Python callers and for every other Pulumi language.

The `*Args` classes are dataclasses: Python code builds them with keywords, reads their fields
and calls their `validate()`. The multi-language provider (`provider/`) infers the schema from
the same classes (`pulumi.provider.experimental`: field annotations become the inputs, the string
literal after a field its description) and hands a component the inputs another language sent as
a plain dict, camelCase names already mapped to the fields' names, nested types as nested dicts.
This module joins the two:

- `schema_args` marks a dataclass as component args: a field with a default becomes an optional
  input in the schema (the analyzer only knows optional from the annotation, so the decorator
  shows it `NotRequired[...]` for such fields; Python's own view of the class is unchanged).
- `as_args` turns such a dict into the dataclass (nested dataclasses, lists and maps too),
  checking every value against its field's annotation; what does not fit fails with one
  `ValueError` that names the field by its path (`QueueWorkerArgs.consumer.timeout_s: ...`).
  A value given as the dataclass itself passes through unchanged.

Annotations must be real objects, not strings: modules with such classes do not use
`from __future__ import annotations` (the analyzer reads `__annotations__` as they are).
"""

import dataclasses
import enum
import inspect
import types
from collections import abc
from collections.abc import Awaitable, Mapping
from typing import Any, ForwardRef, NotRequired, TypeVar, Union, get_args, get_origin

import pulumi

T = TypeVar("T")

#: Field metadata of a Python-only arg: a Python object other languages cannot send (e.g. the
#: shared DNS record one component hands the regional ones). The schema leaves it out and a
#: mapping of inputs cannot set it.
PYTHON_ONLY: Mapping[str, Any] = types.MappingProxyType({"schema": False})


def is_python_only(item: dataclasses.Field[Any]) -> bool:
    return item.metadata.get("schema") is False

_NONE_TYPE = type(None)
#: What `get_origin` gives for list[T], tuple[T, ...], Sequence[T] and dict[K, V], Mapping[K, V].
_SEQUENCE_ORIGINS = (list, tuple, abc.Sequence, abc.MutableSequence)
_MAPPING_ORIGINS = (dict, abc.Mapping, abc.MutableMapping)


def schema_args(cls: type[T]) -> type[T]:
    """Declare a dataclass as component args (apply it above `@dataclass`)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"schema_args: {cls.__name__} must be a dataclass")
    own = dict(inspect.get_annotations(cls))
    for item in dataclasses.fields(cls):
        if is_python_only(item):
            own.pop(item.name, None)
    for name, annotation in own.items():
        if isinstance(annotation, str):
            raise TypeError(
                f"schema_args: {cls.__name__}.{name} is annotated with the string {annotation!r}; "
                "the schema needs evaluated annotations (no `from __future__ import annotations`)."
            )
    for item in dataclasses.fields(cls):
        if item.name not in own or not _has_default(item) or _is_optional(item.type):
            continue
        own[item.name] = NotRequired[item.type]
    cls.__annotations__ = own
    return cls


def as_args(cls: type[T], value: object) -> T:
    """`value` as `cls`: the instance itself, or built from a mapping of its fields."""
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        return _build(cls, value, cls.__name__)
    raise ValueError(
        f"{cls.__name__}: expected {cls.__name__} or a mapping of its fields, got "
        f"{type(value).__name__}."
    )


def placed_in(label: str, from_args: str | None, from_keyword: str | None) -> str:
    """The region a regional component runs in: its args' `region`, or Python's `region=`
    keyword (how a parent component places its children); both must agree when both are set."""
    if from_args and from_keyword and from_args != from_keyword:
        raise ValueError(
            f"{label}.region: {from_args!r} differs from the region it is placed in "
            f"({from_keyword!r}); leave it unset or give the same region."
        )
    region = from_keyword or from_args
    if not region:
        raise ValueError(f"{label}.region: required; give the AWS region, e.g. 'us-east-1'.")
    return region


def _has_default(item: dataclasses.Field[Any]) -> bool:
    return (
        item.default is not dataclasses.MISSING or item.default_factory is not dataclasses.MISSING
    )


def _is_union(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType)


def _is_optional(hint: Any) -> bool:
    return _is_union(hint) and _NONE_TYPE in get_args(hint)


def _is_output_member(member: Any) -> bool:
    if isinstance(member, ForwardRef):
        return member.__forward_arg__.startswith("Output")
    return member is pulumi.Output or get_origin(member) is pulumi.Output


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _build(cls: type[T], values: Mapping[str, Any], path: str) -> T:
    fields = {
        item.name: item
        for item in dataclasses.fields(cls)  # type: ignore[arg-type]
        if item.init and not is_python_only(item)
    }
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(
            f"{path}.{unknown[0]}: not an input of {cls.__name__} (its inputs: "
            f"{', '.join(fields)})."
        )
    arguments: dict[str, Any] = {}
    for name, item in fields.items():
        value = values.get(name)
        if value is None:
            if not _has_default(item):
                raise ValueError(f"{path}.{name}: required.")
            continue
        arguments[name] = _convert(item.type, value, f"{path}.{name}")
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from error


def _convert(hint: Any, value: Any, path: str) -> Any:
    if hint is Any:
        return value
    if _is_union(hint):
        return _convert_union(hint, value, path)
    if isinstance(value, pulumi.Output) or inspect.isawaitable(value):
        raise ValueError(
            f"{path}: must be a plain value, known when the program runs (a preview reads it), "
            "not an output of another resource."
        )
    origin = get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{path}: expected true or false, got {_describe(value)}.")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{path}: expected a whole number, got {_describe(value)}.")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{path}: expected a number, got {_describe(value)}.")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{path}: expected a string, got {_describe(value)}.")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if isinstance(value, Mapping):
            return _build(hint, value, path)
        raise ValueError(f"{path}: expected an object of {hint.__name__}, got {_describe(value)}.")
    if origin in _SEQUENCE_ORIGINS:
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise ValueError(f"{path}: expected a list, got {_describe(value)}.")
        item_hints = get_args(hint)
        item_hint = item_hints[0] if item_hints else Any
        items = [_convert(item_hint, item, f"{path}[{index}]") for index, item in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin in _MAPPING_ORIGINS:
        if not isinstance(value, Mapping):
            raise ValueError(f"{path}: expected a map, got {_describe(value)}.")
        value_hint = get_args(hint)[1] if len(get_args(hint)) == 2 else Any
        converted: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: keys must be strings, got {_describe(key)}.")
            converted[key] = _convert(value_hint, item, f"{path}[{key!r}]")
        return converted
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in hint)
            raise ValueError(f"{path}: {_describe(value)} must be one of {allowed}.") from None
    if isinstance(hint, type):
        if isinstance(value, hint):
            return value
        raise ValueError(f"{path}: expected {hint.__name__}, got {_describe(value)}.")
    return value


def _convert_union(hint: Any, value: Any, path: str) -> Any:
    members = get_args(hint)
    if value is None:
        if _NONE_TYPE in members:
            return None
        raise ValueError(f"{path}: required.")
    accepts_output = any(_is_output_member(member) for member in members)
    accepts_awaitable = any(get_origin(member) is Awaitable for member in members)
    if isinstance(value, pulumi.Output) and accepts_output:
        return value
    if inspect.isawaitable(value) and accepts_awaitable:
        return value
    plain = [
        member
        for member in members
        if member is not _NONE_TYPE
        and not _is_output_member(member)
        and get_origin(member) is not Awaitable
    ]
    error: ValueError | None = None
    for member in plain:
        try:
            return _convert(member, value, path)
        except ValueError as failure:
            error = error or failure
    raise error or ValueError(f"{path}: unexpected value {_describe(value)}.")
