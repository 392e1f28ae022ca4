"""Run policy packs over the recorded resources the way the CLI does.

Each pack starts as `python -m pulumi.policy <engine> <pack dir>` (through `PolicyPackProcess`),
gets its configuration (the CLI's `--policy-pack-config` JSON; the pack's defaults fill in the
rest), then one `Analyze` per custom resource (its inputs, with its provider) and one
`AnalyzeStack` with every resource, parent, dependencies and property dependencies.

Like the engine, the resources' default providers are part of the stack: one
`pulumi:providers:<package>` per package the program used without an explicit provider, whose
inputs are that package's stack config (`aws:region` -> `region`) and version.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import yaml
from pulumi.runtime.rpc import UNKNOWN

from ..engine.fake_outputs import stable_uuid
from ..engine.project import StackConfig, to_language_host_string
from ..engine.recording import PROVIDER_TYPE_PREFIX, Registration
from ..errors import PolicyRunError, UsageError, read_json_option
from ..model import DeferredCheck, PackPolicy, PackRun, PolicyCall, Violation
from ..modes import INPUTS, OUTPUTS_ONLY, runs_as_preview
from .analyzer import (
    Diagnostic,
    PackCallError,
    PackConfigError,
    PackStartError,
    PolicyPackProcess,
    ResourceSnapshot,
)
from .pack_environment import pack_python

ENFORCEMENT_LEVELS: Final[tuple[str, ...]] = ("advisory", "mandatory", "remediate", "disabled")


# -- --policy-pack-config -------------------------------------------------------------------


def _check_level(level: Any, where: str, path: Path) -> None:
    if not isinstance(level, str) or level not in ENFORCEMENT_LEVELS:
        raise UsageError(
            f"--policy-pack-config {path}: {where}: {json.dumps(level)} is not an enforcement "
            f"level; use one of {', '.join(ENFORCEMENT_LEVELS)}"
        )


def parse_pack_config(path: Path) -> dict[str, Any]:
    """The CLI's format: `{"policy": "mandatory"}` or `{"policy": {"enforcementLevel"?, ...}}`,
    plus `"all"` for every policy of the pack. Checked here so that errors name the file."""
    loaded = read_json_option("--policy-pack-config", path, empty={})
    if not isinstance(loaded, dict):
        raise UsageError(
            f"--policy-pack-config {path}: must be a JSON object keyed by policy name, e.g. "
            '{"sqs-dead-letter-queue": "mandatory"}'
        )
    for name, value in loaded.items():
        if isinstance(value, str):
            _check_level(value, f'"{name}"', path)
        elif isinstance(value, dict):
            if "enforcementLevel" in value:
                _check_level(value["enforcementLevel"], f'"{name}".enforcementLevel', path)
        else:
            raise UsageError(
                f'--policy-pack-config {path}: "{name}" must be an enforcement level or an '
                f"object of settings, got {json.dumps(value)}"
            )
    return loaded


def _unknown_policies(
    config: Mapping[str, Any], process: PolicyPackProcess, path: Path | None
) -> None:
    known = {policy.name for policy in process.policies} | {"all"}
    unknown = sorted(set(config) - known)
    if unknown:
        where = f"--policy-pack-config {path}" if path else "the policy config"
        raise UsageError(
            f"{where}: pack '{process.pack_name}' has no policy named {', '.join(unknown)}; its "
            f"policies are {', '.join(sorted(known - {'all'}))}"
        )


# -- snapshots ------------------------------------------------------------------------------


def snapshot_of(
    registration: Registration,
    properties: dict[str, Any],
    provider: str = "",
    *,
    links: bool = True,
) -> ResourceSnapshot:
    """What a pack receives for one registration, with the given properties; without `links`,
    no dependencies or property dependencies (the outputs-only worst case)."""
    return ResourceSnapshot(
        urn=registration.urn,
        type=registration.type,
        name=registration.name,
        properties=properties,
        parent=registration.parent,
        dependencies=list(registration.dependencies) if links else [],
        property_dependencies=(
            {k: list(v) for k, v in registration.property_dependencies.items()} if links else {}
        ),
        provider=provider,
        custom=registration.custom,
        protect=registration.protect,
    )


def _package_version(package: str) -> str:
    try:
        return metadata.version(f"pulumi_{package}")
    except metadata.PackageNotFoundError:
        return ""


def default_provider(
    package: str, stack: StackConfig, *, preview: bool
) -> tuple[ResourceSnapshot, str]:
    """The engine's default provider of `package` and the reference resources carry to it."""
    version = _package_version(package)
    name = "default" + (f"_{version.replace('.', '_')}" if version else "")
    urn = f"urn:pulumi:{stack.stack}::{stack.project_name}::{PROVIDER_TYPE_PREFIX}{package}::{name}"
    properties = {
        key.split(":", 1)[1]: to_language_host_string(value)
        for key, value in stack.values.items()
        if key.startswith(f"{package}:")
    }
    if version:
        properties["version"] = version
    provider_id = UNKNOWN if preview else stable_uuid(urn)
    snapshot = ResourceSnapshot(
        urn=urn,
        type=f"{PROVIDER_TYPE_PREFIX}{package}",
        name=name,
        properties=properties,
        custom=True,
    )
    return snapshot, f"{urn}::{provider_id}"


@dataclass
class Snapshots:
    """What the packs receive: per-resource inputs for Analyze, the whole stack for AnalyzeStack."""

    analyze: list[tuple[ResourceSnapshot, ResourceSnapshot | None]]
    stack: list[ResourceSnapshot]


def build_snapshots(
    registrations: Sequence[Registration],
    root: Registration,
    stack: StackConfig,
    *,
    mode: str,
) -> Snapshots:
    """What the engine sends in `mode` (see modes.py): `Analyze` the checked inputs of each
    resource it would create or update, `AnalyzeStack` every resource's state (planned at
    preview, known after an update) with its dependencies."""
    preview = runs_as_preview(mode)
    links = mode != OUTPUTS_ONLY
    providers: dict[str, tuple[ResourceSnapshot, str]] = {}
    explicit: dict[str, ResourceSnapshot] = {}
    whole = [snapshot_of(root, dict(root.outputs), "")]
    pending: list[tuple[Registration, str]] = []
    for registration in registrations:
        provider_ref = registration.provider
        is_provider = registration.type.startswith(PROVIDER_TYPE_PREFIX)
        if registration.custom and not provider_ref and not registration.type.startswith("pulumi:"):
            package = registration.package
            if package not in providers:
                providers[package] = default_provider(package, stack, preview=preview)
            provider_ref = providers[package][1]
        pending.append((registration, provider_ref))
        if is_provider:
            explicit[registration.urn] = snapshot_of(registration, registration.inputs, "")

    by_provider_urn = {snapshot.urn: snapshot for snapshot, _ in providers.values()} | explicit
    analyze: list[tuple[ResourceSnapshot, ResourceSnapshot | None]] = []
    whole += [snapshot for snapshot, _ in providers.values()]
    for registration, provider_ref in pending:
        if mode == INPUTS or not registration.custom:
            state = registration.checked_inputs
        else:
            # A type with no SDK class to model it has no planned state here: its inputs.
            state = registration.outputs or registration.checked_inputs
        whole.append(snapshot_of(registration, state, provider_ref, links=links))
        # A resource read with `.get()` is not the program's to change: the engine analyzes
        # only what it would create or update, and lists reads in the stack.
        if (
            mode != OUTPUTS_ONLY
            and registration.custom
            and not registration.read
            and not registration.type.startswith("pulumi:")
        ):
            provider_urn = provider_ref.rpartition("::")[0] if provider_ref else ""
            analyze.append(
                (
                    snapshot_of(registration, registration.checked_inputs, provider_ref),
                    by_provider_urn.get(provider_urn),
                )
            )
    return Snapshots(analyze=analyze, stack=whole)


# -- running packs --------------------------------------------------------------------------


def validate_pack_dir(directory: Path) -> Path:
    resolved = directory.expanduser().resolve()
    if not resolved.is_dir():
        raise UsageError(f"--policy-pack {directory}: no such folder")
    if not (resolved / "PulumiPolicy.yaml").is_file():
        raise UsageError(
            f"--policy-pack {directory}: no PulumiPolicy.yaml there; point it at a policy pack "
            "folder"
        )
    return resolved


def _start(directory: Path) -> PolicyPackProcess:
    process = PolicyPackProcess(directory, python=pack_python(directory))
    try:
        process.start()
    except PackStartError as exc:
        process.close()
        raise PolicyRunError(f"policy pack {directory} failed to start: {exc}") from None
    return process


class PackLauncher:
    """Starts every pack in the background while the program runs (start-up takes a while)."""

    def __init__(self, directories: Sequence[Path]) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(directories)), thread_name_prefix="policy-pack"
        )
        self._futures: list[Future[PolicyPackProcess]] = [
            self._pool.submit(_start, directory) for directory in directories
        ]

    def wait(self) -> list[PolicyPackProcess]:
        """The started packs, in order; the first failure is raised once all are settled."""
        started: list[PolicyPackProcess] = []
        failure: BaseException | None = None
        for future in self._futures:
            try:
                started.append(future.result())
            except BaseException as exc:  # raised once every pack is settled
                failure = failure or exc
        if failure is not None:
            raise failure
        return started

    def close(self) -> None:
        """Stop every pack, including one still starting (it is waited for, then stopped)."""
        for future in self._futures:
            try:
                process = future.result()
            except BaseException:  # it failed to start: nothing is left running
                continue
            process.close()
        self._pool.shutdown(wait=True)


def _violation(diagnostic: Diagnostic, severities: Mapping[str, str]) -> Violation:
    return Violation(
        pack=diagnostic.pack,
        policy=diagnostic.policy,
        level=diagnostic.level,
        urn=diagnostic.urn,
        message=diagnostic.message,
        description=diagnostic.description,
        # The engine's order: the diagnostic's own severity, else its policy's.
        severity=diagnostic.severity or severities.get(diagnostic.policy, ""),
    )


def pack_version(directory: Path, reported: str) -> str:
    """The version the engine gives a local pack: PulumiPolicy.yaml's `version` when set (the
    Python SDK always answers 0.0.1), else what GetAnalyzerInfo answered."""
    try:
        loaded = yaml.safe_load((directory / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return reported
    version = loaded.get("version") if isinstance(loaded, dict) else None
    return str(version) if version not in (None, "") else reported


def effective_level(name: str, default: str, config: Mapping[str, Any]) -> str:
    """A policy's level after the config, reconciled the CLI's way: its own entry, then `all`."""
    own = config.get(name)
    if isinstance(own, str):
        return own
    if isinstance(own, Mapping) and isinstance(own.get("enforcementLevel"), str):
        return str(own["enforcementLevel"])
    everyone = config.get("all")
    if isinstance(everyone, str):
        return everyone
    if isinstance(everyone, Mapping) and isinstance(everyone.get("enforcementLevel"), str):
        return str(everyone["enforcementLevel"])
    return default


def run_pack(
    process: PolicyPackProcess,
    directory: Path,
    snapshots: Snapshots,
    config: Mapping[str, Any],
    config_path: Path | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> PackRun:
    started = time.perf_counter()
    pack = PackRun(
        name=process.pack_name,
        directory=str(directory),
        policies=[
            PackPolicy(
                process.pack_name,
                policy.name,
                effective_level(policy.name, policy.level, config),
                policy.description,
                policy.severity,
                policy.policy_type,
            )
            for policy in process.policies
        ],
        version=pack_version(directory, process.pack_version),
    )
    severities = {policy.name: policy.severity for policy in process.policies}

    def record(urn: str, diagnostics: list[Diagnostic]) -> None:
        found = tuple(_violation(diagnostic, severities) for diagnostic in diagnostics)
        pack.calls.append(PolicyCall(urn, found, tuple(process.last_not_applicable)))
        pack.violations += found

    _unknown_policies(config, process, config_path)
    try:
        process.configure(dict(config))
    except PackConfigError as exc:
        where = f" (--policy-pack-config {config_path})" if config_path else ""
        raise PolicyRunError(
            f"policy pack '{process.pack_name}' refused its config{where}: {exc}"
        ) from None
    try:
        total = len(snapshots.analyze)
        for index, (snapshot, provider) in enumerate(snapshots.analyze, start=1):
            if on_progress is not None and (index % 10 == 0 or index == total):
                on_progress(f"{process.pack_name}: analyzed {index}/{total} resources")
            record(snapshot.urn, process.analyze(snapshot, provider=provider))
        if on_progress is not None:
            on_progress(f"{process.pack_name}: analyzing the stack")
        record("", process.analyze_stack(snapshots.stack))
    except PackCallError as exc:
        raise PolicyRunError(f"{exc}\n{process.stderr_text().strip()}".strip()) from None
    pack.deferred = [
        DeferredCheck(
            pack=diagnostic.pack,
            policy=diagnostic.policy,
            urn=diagnostic.urn,
            prop=DeferredCheck.property_of(diagnostic.message),
            message=_own_message(diagnostic),
        )
        for diagnostic in process.deferred
    ]
    pack.duration_s = time.perf_counter() - started
    return pack


def _own_message(diagnostic: Diagnostic) -> str:
    message = diagnostic.message.strip()
    description = diagnostic.description.strip()
    if description and message.startswith(description):
        message = message[len(description) :].strip() or message
    return message
