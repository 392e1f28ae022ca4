"""The machine-readable report (`--json FILE`).

Shape: `{"resources": [{urn, type, name, parent, region, custom, protect, retainOnDelete,
inputs}], "policies": [{pack, name,
level}], "violations": [{pack, policy, level, urn, message, severity, policyPack}], "summary":
{...}, "providerCalls": [{token, arguments, answer, region}], "stackReferences": [{stack, known,
reason, unknownOutputs}], "policyPacks": [{name, version, directory}], "exemptions": [{pack,
policy, urn, reason, level, message}], "providerFunctions": [{token, answer, calls}]}`, plus
`remoteComponents` (`[{urn, type, name, package, childrenSeen, outputs}]`) when the program has
remote components, `both` with `--mode both` and `changes` with `--against`. `summary.deferred` lists the checks a
pack deferred to `pulumi up` (`[{pack, policy, urn, property, message}]`). Inputs
keep the engine's unknown sentinel (`summary.unknown_value`) where a value was unknown at preview;
secrets are replaced by "[secret]" and assets/archives by a short description. An exempted
violation (reported at the advisory level, its message marked `Exempt (<reason>): `) also carries
`"exempt": true`, is listed under `exemptions` with its reason, and `summary.exempt_violations`
counts them.

A violation's `severity` is the one the engine shows (the diagnostic's, else its policy's; null
when neither names one) and `policyPack` the pack's name and the version the engine reports
(PulumiPolicy.yaml's `version`, else the pack's own answer). `providerFunctions` lists each
provider function the program called that was answered offline, once, with how it was answered
and how many calls it got.

With `--against PREVIOUS.json`, `changes` holds what this run would do to the stack of that
earlier report (see changes.py): `created` (urn, type, region), `deleted` (urn, type, region,
how, protected, protectedBy, stateful, loses, retained) and their `counts`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from pulumi.runtime.rpc import UNKNOWN

from resilience_policies.exemptions import EXEMPT_MARKER

from ..engine.recording import SECRET_SIGNATURE, SECRET_SIGNATURE_KEY
from ..model import ADVISORY, PreviewResult, Violation

_ASSET_SIGNATURE: Final[str] = "c44067f5952c0a294b673a41bacd8c17"
_ARCHIVE_SIGNATURE: Final[str] = "0def7320c3a5731c473e5ecbe6d01bc7"


def json_value(value: Any) -> Any:
    if isinstance(value, dict):
        signature = value.get(SECRET_SIGNATURE_KEY)
        if signature == SECRET_SIGNATURE:
            return "[secret]"
        if signature in (_ASSET_SIGNATURE, _ARCHIVE_SIGNATURE):
            kind = "asset" if signature == _ASSET_SIGNATURE else "archive"
            rest = {k: json_value(v) for k, v in value.items() if k != SECRET_SIGNATURE_KEY}
            return {kind: rest}
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_value(item) for item in value]
    return value


def exemption_reason(violation: Violation) -> str | None:
    """The reason of an exempted violation (its message reads `Exempt (<reason>): ...` after
    the policy's description), or None when it is not exempt."""
    if not violation.is_exempt:
        return None
    reason, separator, _ = violation.own_message[len(EXEMPT_MARKER) :].partition("): ")
    return reason if separator else reason.rstrip(")")


def provider_functions(result: PreviewResult) -> list[dict[str, Any]]:
    """Each provider function answered offline, once per way it was answered, with its calls."""
    counted: dict[tuple[str, str], int] = {}
    for call in result.run.provider_calls:
        if call.failure is None:
            counted[(call.token, call.kind)] = counted.get((call.token, call.kind), 0) + 1
    return [
        {"token": token, "answer": answer, "calls": calls}
        for (token, answer), calls in sorted(counted.items())
    ]


def remote_components(result: PreviewResult) -> list[dict[str, Any]]:
    """`[{urn, type, name, package, childrenSeen, outputs}]`: each remote component."""
    return [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "package": r.package,
            "childrenSeen": False,
            "outputs": "unknown",
        }
        for r in result.run.registrations
        if r.remote
    ]


def report_resources(result: PreviewResult) -> list[dict[str, Any]]:
    """The resources as the report lists them: the stack, then every registration by URN."""
    stack = result.stack_registration()
    resources: list[dict[str, Any]] = [
        {
            "urn": stack.urn,
            "type": stack.type,
            "name": stack.name,
            "parent": "",
            "region": None,
            "custom": False,
            "inputs": {},
        }
    ]
    for resource in sorted(result.shown_resources(), key=lambda r: r.urn):
        resources.append(
            {
                "urn": resource.urn,
                "type": resource.type,
                "name": resource.name,
                "parent": resource.parent,
                "region": resource.region,
                "custom": resource.custom,
                "protect": resource.protect,
                "retainOnDelete": resource.retain_on_delete,
                "inputs": json_value(resource.inputs),
            }
        )
    return resources


def build_report(result: PreviewResult) -> dict[str, Any]:
    resources = report_resources(result)
    policies = [
        {"pack": policy.pack, "name": policy.name, "level": policy.level}
        for pack in result.packs
        for policy in pack.policies
    ]
    versions = {pack.name: pack.version for pack in result.packs}
    violations = [
        {
            "pack": v.pack,
            "policy": v.policy,
            "level": v.level,
            "urn": v.urn,
            "message": v.message,
            "severity": v.severity or None,
            "policyPack": {"name": v.pack, "version": versions.get(v.pack, "")},
            # Only on exempted violations: every other one keeps the shape it always had.
            **({"exempt": True} if v.is_exempt else {}),
        }
        for v in result.violations
    ]
    exemptions = [
        {
            "pack": v.pack,
            "policy": v.policy,
            "urn": v.urn,
            "reason": exemption_reason(v),
            "level": v.level,
            "message": v.message,
        }
        for v in result.exempt
    ]
    summary = {
        "project": result.stack.project_name,
        "stack": result.stack.stack,
        "mode": result.mode,
        "exit_code": result.exit_code,
        "resources": result.counts(),
        "mandatory_violations": len(result.mandatory),
        "advisory_violations": sum(1 for v in result.violations if v.level == ADVISORY),
        "exempt_violations": len(result.exempt),
        "cant_run_at_preview": sum(1 for v in result.violations if v.is_cant_run),
        "deferred_checks": len(result.deferred),
        # Checks a pack could not decide at preview (a value they compare is unknown): advisory,
        # decided at `pulumi up`. Each names the resource and the property.
        "deferred": _deferred(result),
        "packs": [
            {
                "name": p.name,
                "version": p.version,
                "directory": p.directory,
                "policies": len(p.policies),
                "violations": len(p.violations),
            }
            for p in result.packs
        ],
        "regions": {name: summary.to_json() for name, summary in result.regions.items()},
        "outputs": json_value(result.run.exports),
        "unknown_value": UNKNOWN,
        "timings": {key: round(value, 3) for key, value in result.timings.items()},
    }
    return {
        "resources": resources,
        "policies": policies,
        "violations": violations,
        "summary": summary,
        # How each provider function was answered offline ("well-known" or "generic").
        "providerCalls": [json_value(call.to_json()) for call in result.run.provider_calls],
        "stackReferences": [reference.to_json() for reference in result.run.stack_references],
        "policyPacks": [
            {"name": pack.name, "version": pack.version, "directory": pack.directory}
            for pack in result.packs
        ],
        "exemptions": exemptions,
        "providerFunctions": provider_functions(result),
        # Only when the program has multi-language (remote) components: nothing constructed
        # them offline, so their children were not seen and their outputs are unknown.
        **({"remoteComponents": remote} if (remote := remote_components(result)) else {}),
        # Only with --mode both: the known-outputs (update) run and one verdict table.
        **({"both": _both(result)} if result.update is not None else {}),
        # Only with --against: what this run would create and delete in that report's stack.
        **({"changes": result.changes.to_json()} if result.changes is not None else {}),
    }


def _deferred(result: PreviewResult) -> list[dict[str, Any]]:
    return [
        {
            "pack": check.pack,
            "policy": check.policy,
            "urn": check.urn,
            "property": check.prop,
            "message": check.message,
        }
        for check in result.deferred
    ]


def _both(result: PreviewResult) -> dict[str, Any]:
    update = result.update
    assert update is not None
    rows = result.verdict_table()
    return {
        "update": {
            "mandatory_violations": len(update.mandatory),
            "advisory_violations": sum(1 for v in update.violations if v.level == ADVISORY),
            "deferred": _deferred(update),
            "violations": [
                {
                    "pack": v.pack,
                    "policy": v.policy,
                    "level": v.level,
                    "urn": v.urn,
                    "message": v.message,
                }
                for v in update.violations
            ],
        },
        "verdicts": [row.to_json() for row in rows],
        "updateOnly": sum(1 for row in rows if row.update_only),
    }


def write_report(result: PreviewResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(build_report(result), indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
