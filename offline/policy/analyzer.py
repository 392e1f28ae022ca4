"""The engine's side of the policy Analyzer protocol: start a policy pack the way the Pulumi CLI
does and ask it for verdicts over gRPC.

The CLI runs a Python pack as `python -u -m pulumi.policy <engine address> <pack folder>`,
reads the port the pack prints on its first stdout line, then calls `GetAnalyzerInfo`,
`Configure`, `Remediate` / `Analyze` per resource and `AnalyzeStack` once. `PolicyPackProcess`
does the same, so what it returns is what `pulumi preview --policy-pack` would show.

The engine address is the CLI's own gRPC server (its Engine service, for `Log`). The Python
policy SDK parses the argument but never connects to it: `pulumi.log` inside a pack only talks
to an engine when the runtime was configured with one, which `pulumi.policy` never does, so
pack logs go to its stderr. `ENGINE_ADDRESS` is therefore an address nothing listens on.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

#: The engine's sentinels for values that are not known during a preview (the Go engine's
#: resource.Unknown*Value constants; the policy SDK's proxy checks for the same strings).
UNKNOWN_STRING: Final[str] = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_NUMBER: Final[str] = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
UNKNOWN_BOOL: Final[str] = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
UNKNOWN_ARRAY: Final[str] = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
UNKNOWN_OBJECT: Final[str] = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"
UNKNOWN_ASSET: Final[str] = "030794c1-ac77-496b-92df-f27374a8bd58"
UNKNOWN_ARCHIVE: Final[str] = "e48ece36-62e2-4504-bad9-02848725956a"
UNKNOWN_SENTINELS: Final[frozenset[str]] = frozenset(
    {
        UNKNOWN_STRING,
        UNKNOWN_NUMBER,
        UNKNOWN_BOOL,
        UNKNOWN_ARRAY,
        UNKNOWN_OBJECT,
        UNKNOWN_ASSET,
        UNKNOWN_ARCHIVE,
    }
)

#: Passed where the CLI passes its Engine server's address (see the module docstring).
ENGINE_ADDRESS: Final[str] = "127.0.0.1:0"
#: The engine's gRPC message limit towards analyzers (the SDK's server accepts the same).
MAX_MESSAGE_BYTES: Final[int] = 400 * 1024 * 1024
DEFAULT_START_TIMEOUT_S: Final[float] = 60.0

#: How a finding the pack could not decide at preview starts (an unknown value it compares;
#: resilience_policies.props.DEFERRED_MARKER). The pack sends it as advisory; the same rule
#: decides it at `pulumi up`.
DEFERRED_MARKER: Final[str] = "Decided at `pulumi up`: "


def is_deferred(diagnostic: Diagnostic) -> bool:
    """Whether a diagnostic reports a check deferred to `pulumi up` rather than a verdict."""
    own = diagnostic.message.strip()
    description = diagnostic.description.strip()
    if description and own.startswith(description):
        own = own[len(description) :].lstrip()
    return diagnostic.level == "advisory" and (
        own.startswith(DEFERRED_MARKER)
        or (own.startswith("Exempt (") and DEFERRED_MARKER in own)
    )


LEVEL_NAMES: Final[dict[int, str]] = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
LEVEL_VALUES: Final[dict[str, int]] = {name: value for value, name in LEVEL_NAMES.items()}
#: Policy severities as the engine names them (apitype.PolicySeverity); unspecified is "".
SEVERITY_NAMES: Final[dict[int, str]] = {
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
#: Policy types as GetAnalyzerInfo reports them; an older SDK reports none ("").
POLICY_TYPE_NAMES: Final[dict[int, str]] = {
    analyzer_pb2.POLICY_TYPE_RESOURCE: "resource",
    analyzer_pb2.POLICY_TYPE_STACK: "stack",
}
ENFORCEMENT_LEVEL_KEY: Final[str] = "enforcementLevel"
ALL_POLICIES_KEY: Final[str] = "all"


class PackStartError(RuntimeError):
    """The pack exited or stayed silent before printing its port; carries its stderr."""


class PackConfigError(ValueError):
    """The configuration was refused (by this module, or by the pack's Configure)."""


class PackCallError(RuntimeError):
    """An Analyze / AnalyzeStack / Remediate call failed inside the pack."""


@dataclass
class ResourceSnapshot:
    """One resource as the engine describes it to an analyzer.

    `properties` are engine-named (camelCase) and may hold the unknown sentinels above;
    `provider` is the provider reference (`<provider urn>::<provider id>`), empty for the
    default provider.
    """

    urn: str
    type: str
    name: str
    properties: dict[str, Any]
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    provider: str = ""
    custom: bool = True
    #: The `protect` option: the engine refuses to delete the resource while it is set.
    protect: bool = False


@dataclass
class Diagnostic:
    pack: str
    policy: str
    level: str  # advisory | mandatory | remediate | disabled
    message: str
    urn: str
    description: str = ""
    #: low | medium | high | critical, or "" when the diagnostic names none.
    severity: str = ""


@dataclass
class PolicyInfo:
    name: str
    level: str
    description: str
    config_schema: dict[str, Any]
    severity: str = ""
    #: resource | stack, or "" when the SDK does not say.
    policy_type: str = ""


@dataclass
class Remediation:
    """One policy's answer to Remediate: the resource's new properties, or why it could not."""

    pack: str
    policy: str
    description: str
    properties: dict[str, Any] | None
    diagnostic: str = ""


def _struct(properties: Mapping[str, Any], where: str) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    try:
        message.update(properties)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{where}: properties must be JSON-like (dict, list, str, number, bool, None): {error}"
        ) from None
    return message


def _provider_urn(reference: str) -> str:
    """`<urn>::<id>` -> `<urn>` (a URN itself contains `::`, the id never does)."""
    urn, separator, _ = reference.rpartition("::")
    return urn if separator and urn.startswith("urn:") else reference


class PolicyPackProcess:
    """A running policy pack and a gRPC client to it. Use as a context manager."""

    def __init__(
        self,
        pack_dir: Path,
        python: str | None = None,
        env: dict[str, str] | None = None,
        *,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
    ) -> None:
        """`env` adds to (and overrides) this process's environment for the pack."""
        self.pack_dir = Path(pack_dir).resolve()
        self.python = python or sys.executable
        self.env = dict(env or {})
        self.start_timeout_s = start_timeout_s
        self.pack_name = ""
        self.pack_version = ""
        self.policies: list[PolicyInfo] = []
        #: The policies the last Analyze / AnalyzeStack answered as not applicable.
        self.last_not_applicable: list[str] = []
        #: Checks the pack deferred to `pulumi up` since the last Configure (advisory findings
        #: that are not verdicts; see DEFERRED_MARKER).
        self.deferred: list[Diagnostic] = []
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._stdout_tail: list[bytes] = []
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> PolicyPackProcess:
        if self._process is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the pack like the CLI, wait for its port, read its policies."""
        if self._process is not None:
            raise RuntimeError("this pack process was already started")
        if not (self.pack_dir / "__main__.py").is_file():
            raise PackStartError(
                f"{self.pack_dir} has no __main__.py: point at the policy pack folder"
            )
        # Kept open for the pack's lifetime (closed in close()), read back on failures.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        command = [self.python, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, str(self.pack_dir)]
        self._process = subprocess.Popen(
            command,
            cwd=self.pack_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, **self.env},
        )
        self.port = self._read_port()
        # The pack may still print; keep its stdout drained so it never blocks on a full pipe.
        threading.Thread(target=self._drain_stdout, daemon=True).start()
        self._channel = grpc.insecure_channel(
            f"127.0.0.1:{self.port}",
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        try:
            info = self._stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=self.start_timeout_s)
        except grpc.RpcError as error:
            raise PackStartError(
                f"the pack listens on port {self.port} but GetAnalyzerInfo failed: "
                f"{error.details()}\n{self.stderr_text()}"
            ) from None
        self.pack_name = info.name
        self.pack_version = info.version
        self.policies = [
            PolicyInfo(
                name=policy.name,
                level=LEVEL_NAMES.get(policy.enforcementLevel, "advisory"),
                description=policy.description,
                config_schema=json_format.MessageToDict(policy.configSchema),
                severity=SEVERITY_NAMES.get(policy.severity, ""),
                policy_type=POLICY_TYPE_NAMES.get(policy.policy_type, ""),
            )
            for policy in info.policies
        ]

    def _read_port(self) -> int:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        deadline = time.monotonic() + self.start_timeout_s
        received = b""
        while b"\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stop()
                raise PackStartError(
                    f"the pack in {self.pack_dir} printed no port within "
                    f"{self.start_timeout_s:.0f} s.\n{self.stderr_text()}"
                )
            ready, _, _ = select.select([stdout], [], [], min(remaining, 0.2))
            if ready:
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    break  # stdout closed: the pack exited
                received += chunk
            elif self._process.poll() is not None:
                break
        line, _, rest = received.partition(b"\n")
        self._stdout_tail.append(rest)
        try:
            return int(line.strip())
        except ValueError:
            # Its stdout closed: it is exiting, so its exit code is moments away.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5 if b"\n" not in received else 0.2)
            code = self._process.poll()
            self._stop()
            status = f"exited with code {code}" if code is not None else "printed no port"
            shown = f" (its first stdout line was {line[:200]!r})" if line.strip() else ""
            raise PackStartError(
                f"the pack in {self.pack_dir} {status} before listening{shown}.\n"
                f"{self.stderr_text()}"
            ) from None

    def _drain_stdout(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        with contextlib.suppress(OSError, ValueError):
            for line in process.stdout:
                self._stdout_tail = [*self._stdout_tail[-50:], line]

    def stderr_text(self) -> str:
        """What the pack wrote on stderr so far."""
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            self._stderr.seek(0)
            data = self._stderr.read()
            self._stderr.seek(0, os.SEEK_END)
            return data.decode("utf-8", "replace")
        return ""

    def _stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def close(self) -> None:
        """Stop the pack and release everything; safe to call more than once."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            self._stub = None
        self._stop()
        if self._process is not None and self._process.stdout is not None:
            with contextlib.suppress(OSError):
                self._process.stdout.close()
        if self._stderr is not None:
            with contextlib.suppress(OSError):
                self._stderr.close()
            self._stderr = None

    # -- calls --------------------------------------------------------------------------------

    def _client(self) -> analyzer_pb2_grpc.AnalyzerStub:
        if self._stub is None:
            raise RuntimeError("the pack is not running: call start() first")
        return self._stub

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._client(), method)(request)
        except grpc.RpcError as error:
            raise PackCallError(
                f"{method} failed in policy pack '{self.pack_name}': {error.details()}"
            ) from None

    def configure(self, config: Mapping[str, Mapping[str, Any] | str]) -> None:
        """Send a policy configuration as the CLI does after reconciling it.

        `config` maps policy names to `{"enforcementLevel"?: level, <setting>: value, ...}` (or
        to a bare level string); `"all"` sets every policy's level. Each policy of the pack is
        sent with its level (its own default unless given) and its schema defaults overlaid
        with the given settings, so a call with `{}` restores the pack's defaults.
        """
        entries: dict[str, tuple[str, dict[str, Any]]] = {}
        everyone = config.get(ALL_POLICIES_KEY)
        all_level = everyone if isinstance(everyone, str) else None
        if isinstance(everyone, Mapping):
            all_level = everyone.get(ENFORCEMENT_LEVEL_KEY)
        for policy in self.policies:
            defaults = {
                key: schema["default"]
                for key, schema in (policy.config_schema.get("properties") or {}).items()
                if isinstance(schema, Mapping) and "default" in schema
            }
            entries[policy.name] = (all_level or policy.level, defaults)
        for name, value in config.items():
            if name == ALL_POLICIES_KEY:
                continue
            level, properties = entries.get(name, (all_level or "advisory", {}))
            if isinstance(value, str):
                level = value
            elif isinstance(value, Mapping):
                given = dict(value)
                level = given.pop(ENFORCEMENT_LEVEL_KEY, level)
                properties = {**properties, **given}
            else:
                raise PackConfigError(
                    f"config for policy '{name}' must be an enforcement level or an object, got "
                    f"{value!r}"
                )
            entries[name] = (level, properties)
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, properties) in entries.items():
            if level not in LEVEL_VALUES:
                raise PackConfigError(
                    f"policy '{name}': enforcementLevel {level!r} is not one of "
                    f"{', '.join(LEVEL_VALUES)}"
                )
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(
                    enforcementLevel=LEVEL_VALUES[level],  # type: ignore[arg-type]
                    properties=_struct(properties, f"config of policy '{name}'"),
                )
            )
        self.deferred = []
        try:
            self._client().Configure(request)
        except grpc.RpcError as error:
            raise PackConfigError(error.details() or str(error.code())) from None

    def _diagnostics(self, response: Any, default_urn: str = "") -> list[Diagnostic]:
        """The verdicts of a response. Checks the pack deferred to `pulumi up` (advisory
        findings whose message starts with DEFERRED_MARKER) are not verdicts: they are kept
        apart, in `deferred`, for the report's own section."""
        self.last_not_applicable = [item.policy_name for item in response.not_applicable]
        diagnostics = [
            Diagnostic(
                pack=diagnostic.policyPackName or self.pack_name,
                policy=diagnostic.policyName,
                level=LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory"),
                message=diagnostic.message,
                urn=diagnostic.urn or default_urn,
                description=diagnostic.description,
                severity=SEVERITY_NAMES.get(diagnostic.severity, ""),
            )
            for diagnostic in response.diagnostics
        ]
        verdicts: list[Diagnostic] = []
        for diagnostic in diagnostics:
            if is_deferred(diagnostic):
                self.deferred.append(diagnostic)
            else:
                verdicts.append(diagnostic)
        return verdicts

    @staticmethod
    def _provider_message(
        snapshot: ResourceSnapshot | None,
    ) -> analyzer_pb2.AnalyzerProviderResource | None:
        if snapshot is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=snapshot.type,
            urn=snapshot.urn,
            name=snapshot.name,
            properties=_struct(snapshot.properties, f"provider {snapshot.urn}"),
        )

    def _request(
        self, resource: ResourceSnapshot, provider: ResourceSnapshot | None
    ) -> analyzer_pb2.AnalyzeRequest:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=_struct(resource.properties, resource.urn),
            options=analyzer_pb2.AnalyzerResourceOptions(
                parent=resource.parent, protect=resource.protect
            ),
        )
        provider_message = self._provider_message(provider)
        if provider_message is not None:
            request.provider.CopyFrom(provider_message)
        return request

    def analyze(
        self, resource: ResourceSnapshot, *, provider: ResourceSnapshot | None = None
    ) -> list[Diagnostic]:
        """Resource policies over one resource's inputs. As the engine does, a violation
        without a URN is attributed to the analyzed resource."""
        response = self._call("Analyze", self._request(resource, provider))
        return self._diagnostics(response, resource.urn)

    def analyze_stack(self, resources: list[ResourceSnapshot]) -> list[Diagnostic]:
        """Stack policies over every resource (violations without a URN are stack-wide)."""
        return self.analyze_stack_request(self.stack_request(resources))

    def analyze_stack_request(self, request: analyzer_pb2.AnalyzeStackRequest) -> list[Diagnostic]:
        """AnalyzeStack with a request built beforehand (see `stack_request`)."""
        return self._diagnostics(self._call("AnalyzeStack", request))

    @classmethod
    def stack_request(cls, resources: list[ResourceSnapshot]) -> analyzer_pb2.AnalyzeStackRequest:
        """The AnalyzeStackRequest the engine would send for `resources`."""
        by_urn = {resource.urn: resource for resource in resources}
        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in resources:
            message = request.resources.add(
                type=resource.type,
                urn=resource.urn,
                name=resource.name,
                parent=resource.parent,
                dependencies=resource.dependencies,
                properties=_struct(resource.properties, resource.urn),
                options=analyzer_pb2.AnalyzerResourceOptions(
                    parent=resource.parent, protect=resource.protect
                ),
            )
            for key, urns in resource.property_dependencies.items():
                message.propertyDependencies[key].urns.extend(urns)
            provider = by_urn.get(_provider_urn(resource.provider)) if resource.provider else None
            provider_message = cls._provider_message(provider)
            if provider_message is not None:
                message.provider.CopyFrom(provider_message)
        return request

    def remediate(
        self, resource: ResourceSnapshot, *, provider: ResourceSnapshot | None = None
    ) -> list[Remediation]:
        """Remediations of the policies configured at the 'remediate' level, in order; each
        one's `properties` are the resource's new inputs (secrets stay wrapped)."""
        response = self._call("Remediate", self._request(resource, provider))
        return [
            Remediation(
                pack=remediation.policyPackName or self.pack_name,
                policy=remediation.policyName,
                description=remediation.description,
                properties=json_format.MessageToDict(remediation.properties)
                if remediation.HasField("properties")
                else None,
                diagnostic=remediation.diagnostic,
            )
            for remediation in response.remediations
        ]

    def analyze_preview(self, resources: Iterable[ResourceSnapshot]) -> list[Diagnostic]:
        """What a preview shows: Analyze for each custom resource, then AnalyzeStack."""
        snapshots = list(resources)
        by_urn = {resource.urn: resource for resource in snapshots}
        diagnostics: list[Diagnostic] = []
        for resource in snapshots:
            if resource.custom and not resource.type.startswith("pulumi:"):
                provider = (
                    by_urn.get(_provider_urn(resource.provider)) if resource.provider else None
                )
                diagnostics.extend(self.analyze(resource, provider=provider))
        diagnostics.extend(self.analyze_stack(snapshots))
        return diagnostics
