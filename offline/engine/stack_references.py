"""Stack references (`pulumi.StackReference("org/project/stack")`) without a Pulumi backend.

The SDK reads a stack reference as a resource of type `pulumi:pulumi:StackReference` whose
`outputs` the engine fills from the referenced stack. Offline there is no backend to ask:

- in preview mode every output is unknown (`get_output` and `require_output` give unknown
  Outputs, as for any value computed elsewhere);
- in update mode the outputs come from the `--stack-outputs` file
  (`{"<stack name as the program gives it>": {"<output>": value}}`); a stack missing from the
  file, or an output missing from its stack, is unknown as in preview, and the report says which.

A missing output is unknown rather than None (what `get_output` gives for an output the stack
does not have) because the file is a stand-in for the real stack, not the real stack: treating
an omission as a definite None would make `require_output` fail a program that is fine.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pulumi
from pulumi.runtime.rpc import UNKNOWN

from ..errors import UsageError, read_json_option

STACK_REFERENCE_TYPE: Final[str] = "pulumi:pulumi:StackReference"

_FORMAT_HINT: Final[str] = (
    'write it as a JSON object of stacks, each an object of outputs: {"org/project/stack": '
    '{"vpcId": "vpc-0123", "subnetIds": ["subnet-1", "subnet-2"]}}'
)


def load_stack_outputs(path: Path) -> dict[str, dict[str, Any]]:
    """The `--stack-outputs` file; UsageError (exit 2) naming the file and the fix if malformed."""
    data = read_json_option("--stack-outputs", path, _FORMAT_HINT)
    if not isinstance(data, dict):
        raise UsageError(
            f"--stack-outputs {path}: the top level is a JSON {type(data).__name__}, not an "
            f"object; {_FORMAT_HINT}"
        )
    stacks: dict[str, dict[str, Any]] = {}
    for stack, outputs in data.items():
        if not isinstance(outputs, dict):
            raise UsageError(
                f"--stack-outputs {path}: the outputs of stack '{stack}' are a JSON "
                f"{type(outputs).__name__}, not an object; {_FORMAT_HINT}"
            )
        stacks[stack] = dict(outputs)
    return stacks


@dataclass
class StackReferenceRecord:
    """One referenced stack, as the reports list it."""

    stack: str
    #: True when its outputs came from the --stack-outputs file.
    known: bool
    #: Why it is unknown (preview mode, or absent from the file); empty when known.
    reason: str = ""
    #: Outputs the program asked for that the file does not have (unknown to the program).
    unknown_outputs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "known": self.known,
            "reason": self.reason,
            "unknownOutputs": list(self.unknown_outputs),
        }


def _unknown_output(resources: set[pulumi.Resource]) -> pulumi.Output[Any]:
    """An Output whose value is unknown, as one computed from a resource that does not exist yet."""
    loop = asyncio.get_event_loop()
    value: asyncio.Future[Any] = loop.create_future()
    value.set_result(None)
    known: asyncio.Future[bool] = loop.create_future()
    known.set_result(False)
    return pulumi.Output(resources, value, known)


class StackReferences:
    """The stacks a program references, what it was told about them, and what stayed unknown."""

    def __init__(self, *, preview: bool, outputs: Mapping[str, Mapping[str, Any]] | None) -> None:
        self.preview = preview
        self._outputs = {stack: dict(values) for stack, values in (outputs or {}).items()}
        self._given = outputs is not None
        self._lock = threading.Lock()
        self._records: dict[str, StackReferenceRecord] = {}

    def known_outputs(self, stack: str) -> dict[str, Any] | None:
        if self.preview:
            return None
        return self._outputs.get(stack)

    def read(self, stack: str) -> tuple[str, dict[str, Any]]:
        """The id and state the engine would report for reading the reference (the mock's part)."""
        known = self.known_outputs(stack)
        with self._lock:
            if stack not in self._records:
                if known is not None:
                    self._records[stack] = StackReferenceRecord(stack=stack, known=True)
                else:
                    self._records[stack] = StackReferenceRecord(
                        stack=stack, known=False, reason=self._unknown_reason()
                    )
        if known is None:
            # In preview the SDK turns this into unknown Outputs; in update mode the installed
            # hook below does (the SDK knows no unknowns outside a preview).
            return stack, {"name": stack, "outputs": UNKNOWN, "secretOutputNames": UNKNOWN}
        return stack, {"name": stack, "outputs": dict(known), "secretOutputNames": []}

    def _unknown_reason(self) -> str:
        if self.preview:
            return "preview: a new stack's preview reads no other stack"
        if not self._given:
            return "no --stack-outputs file given"
        return "not in the --stack-outputs file"

    def note_unknown_output(self, stack: str, output: str) -> None:
        with self._lock:
            record = self._records.setdefault(stack, StackReferenceRecord(stack=stack, known=True))
            if output not in record.unknown_outputs:
                record.unknown_outputs.append(output)

    def outputs_view(self, stack: str, outputs: pulumi.Output[Any]) -> pulumi.Output[Any]:
        """What the program's `StackReference.outputs` should be for `stack`: unknown unless the
        file has the stack (the SDK knows no unknowns outside a preview, so say it here)."""
        if self.known_outputs(stack) is not None:
            return outputs
        return outputs.apply(lambda _value: _unknown_output(set()))

    def one_output(
        self,
        reference: pulumi.StackReference,
        stack: str,
        name: pulumi.Input[str],
        read: Callable[[str], pulumi.Output[Any]],
    ) -> pulumi.Output[Any]:
        """`get_output`/`require_output` (`read`) for a stack whose outputs the file gives: an
        output it lacks is unknown rather than None or a KeyError."""
        known = self.known_outputs(stack)
        if known is None:
            # The whole `outputs` is unknown already: the SDK's own lookup gives unknown.
            return read(name)  # type: ignore[arg-type]

        def pick(output: str) -> pulumi.Output[Any]:
            if output in known:
                return read(output)
            self.note_unknown_output(stack, output)
            return _unknown_output({reference})

        return pulumi.Output.from_input(name).apply(pick)

    def records(self) -> list[StackReferenceRecord]:
        with self._lock:
            return [
                StackReferenceRecord(
                    stack=r.stack,
                    known=r.known,
                    reason=r.reason,
                    unknown_outputs=list(r.unknown_outputs),
                )
                for r in sorted(self._records.values(), key=lambda r: r.stack)
            ]


@contextlib.contextmanager
def installed(book: StackReferences) -> Iterator[None]:
    """While the program runs, its StackReferences see `book`'s outputs (restored afterwards).

    The engine's answer cannot say "this one output is unknown", nor anything unknown outside a
    preview, so the hook wraps what the SDK resolved: `outputs` (unknown for a stack the file
    lacks) and `get_output`/`require_output` (unknown for an output the file lacks).
    """
    cls = pulumi.StackReference
    original_init = cls.__init__
    original_get = cls.get_output
    original_require = cls.require_output
    stacks: dict[int, str] = {}

    def init(
        self: pulumi.StackReference,
        name: str,
        stack_name: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        original_init(self, name, stack_name, opts)
        target = stack_name if stack_name is not None else name
        stacks[id(self)] = target
        self.outputs = book.outputs_view(target, self.outputs)

    def get_output(self: pulumi.StackReference, name: pulumi.Input[str]) -> pulumi.Output[Any]:
        stack = stacks.get(id(self))
        if stack is None:
            return original_get(self, name)
        return book.one_output(self, stack, name, lambda output: original_get(self, output))

    def require_output(self: pulumi.StackReference, name: pulumi.Input[str]) -> pulumi.Output[Any]:
        stack = stacks.get(id(self))
        if stack is None:
            return original_require(self, name)
        return book.one_output(self, stack, name, lambda output: original_require(self, output))

    cls.__init__ = init  # type: ignore[method-assign]
    cls.get_output = get_output  # type: ignore[method-assign]
    cls.require_output = require_output  # type: ignore[method-assign]
    try:
        yield
    finally:
        cls.__init__ = original_init  # type: ignore[method-assign]
        cls.get_output = original_get  # type: ignore[method-assign]
        cls.require_output = original_require  # type: ignore[method-assign]
