"""`--against PREVIOUS.json`: what a change of the program or its config would create, delete and
replace, compared by URN with an earlier run's JSON report (`--json`).

The engine matches a program's resources with the stack's state by URN: a URN the earlier run
had and this one has not is deleted by `pulumi up`, a new one is created. Offline there is no
provider diff, so of the replacements only those that are certain from the inputs are listed: a
resource whose `region` changed (a resource cannot move between regions), and, for a DynamoDB
table, each entry of `replicas` that is gone (DeleteTableReplica deletes the replica and its
items). Every delete is marked:

- protected: the `protect` option, or deletion protection in its inputs. Such a delete fails,
  and `pulumi up` stops there, after whatever it deleted before;
- stateful: the resource holds data that goes with it (items, messages, records, logs);
- retained: `retain_on_delete`, the engine only forgets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..errors import UsageError, read_json_option

#: Resource types whose delete takes data with it, and what.
STATEFUL_TYPES: Final[dict[str, str]] = {
    "aws:dynamodb/table:Table": "its items",
    "aws:dynamodb/tableReplica:TableReplica": "the replica and its items",
    "aws:sqs/queue:Queue": "its messages",
    "aws:kinesis/stream:Stream": "its records",
    "aws:cloudwatch/logGroup:LogGroup": "its log events",
    "aws:s3/bucket:Bucket": "its objects",
    "aws:s3/bucketV2:BucketV2": "its objects",
    "aws:sfn/stateMachine:StateMachine": "its execution history",
    "aws:rds/instance:Instance": "its databases",
    "aws:rds/cluster:Cluster": "its databases",
    "aws:efs/fileSystem:FileSystem": "its files",
    "aws:ecr/repository:Repository": "its images",
    "aws:secretsmanager/secret:Secret": "its secret values",
    "aws:ssm/parameter:Parameter": "its value",
}
#: Inputs that turn on a resource's own deletion protection (DynamoDB; RDS, Neptune, DocumentDB).
DELETION_PROTECTION_INPUTS: Final[tuple[str, ...]] = (
    "deletionProtectionEnabled",
    "deletionProtection",
)
_TABLE: Final[str] = "aws:dynamodb/table:Table"
_OPTION: Final[str] = "--against"


@dataclass(frozen=True)
class Delete:
    """A resource (or a table's replica) that the change deletes."""

    urn: str
    type: str
    region: str | None
    #: Why it is deleted: "removed" (its URN is gone), "replaced (...)" or "replica removed".
    how: str
    #: What it keeps from being deleted ("protect", "deletion protection"), else "".
    protected_by: str = ""
    #: What goes with it when it holds data, else "".
    loses: str = ""
    retained: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "region": self.region,
            "how": self.how,
            "protected": bool(self.protected_by),
            "protectedBy": self.protected_by or None,
            "stateful": bool(self.loses),
            "loses": self.loses or None,
            "retained": self.retained,
        }


@dataclass
class Changes:
    """What this run would change in the stack of the earlier report."""

    against: str
    created: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[Delete] = field(default_factory=list)

    @property
    def protected_deletes(self) -> list[Delete]:
        return [delete for delete in self.deleted if delete.protected_by and not delete.retained]

    @property
    def stateful_deletes(self) -> list[Delete]:
        return [delete for delete in self.deleted if delete.loses and not delete.retained]

    def to_json(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "created": self.created,
            "deleted": [delete.to_json() for delete in self.deleted],
            "counts": {
                "created": len(self.created),
                "deleted": len(self.deleted),
                "protectedDeletes": len(self.protected_deletes),
                "statefulDeletes": len(self.stateful_deletes),
            },
        }


@dataclass(frozen=True)
class PreviousReport:
    """The resources of an earlier report, by URN, and the stack it was of."""

    path: Path
    project: str
    stack: str
    resources: dict[str, dict[str, Any]]


def load_previous(path: Path) -> PreviousReport:
    """Read an earlier `--json` report; a UsageError (exit 2) names what is wrong with it."""
    hint = "give the file an earlier `python -m offline preview ... --json FILE` wrote"
    report = read_json_option(_OPTION, path, hint)
    summary = report.get("summary") if isinstance(report, dict) else None
    resources = report.get("resources") if isinstance(report, dict) else None
    if not isinstance(summary, dict) or not isinstance(resources, list):
        raise UsageError(f"{_OPTION} {path}: not a JSON report of this tool; {hint}")
    by_urn: dict[str, dict[str, Any]] = {}
    for resource in resources:
        if not isinstance(resource, dict) or not isinstance(resource.get("urn"), str):
            raise UsageError(f"{_OPTION} {path}: a resource without a URN; {hint}")
        by_urn[resource["urn"]] = resource
    return PreviousReport(
        path=path,
        project=str(summary.get("project", "")),
        stack=str(summary.get("stack", "")),
        resources=by_urn,
    )


def _protected_by(resource: Mapping[str, Any]) -> str:
    if resource.get("protect"):
        return "protect"
    inputs = resource.get("inputs")
    if isinstance(inputs, dict) and any(
        inputs.get(key) is True for key in DELETION_PROTECTION_INPUTS
    ):
        return "deletion protection"
    return ""


def _delete(resource: Mapping[str, Any], how: str) -> Delete:
    return Delete(
        urn=str(resource["urn"]),
        type=str(resource.get("type", "")),
        region=resource.get("region"),
        how=how,
        protected_by=_protected_by(resource),
        loses=STATEFUL_TYPES.get(str(resource.get("type", "")), ""),
        retained=bool(resource.get("retainOnDelete")),
    )


def _replicas(resource: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    inputs = resource.get("inputs")
    entries = inputs.get("replicas") if isinstance(inputs, dict) else None
    return {
        entry["regionName"]: entry
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("regionName"), str)
    }


def _replaced_or_trimmed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Delete]:
    """The certain deletes of a resource that both runs have: a move to another region replaces
    it; a table's dropped replica entries delete those replicas."""
    old_region, new_region = before.get("region"), after.get("region")
    if isinstance(old_region, str) and isinstance(new_region, str) and old_region != new_region:
        return [_delete(before, f"replaced (region {old_region} -> {new_region})")]
    if before.get("type") != _TABLE:
        return []
    kept = _replicas(after)
    gone: list[Delete] = []
    for region, entry in _replicas(before).items():
        if region in kept:
            continue
        protected = entry.get("deletionProtectionEnabled") is True
        gone.append(
            Delete(
                urn=str(before["urn"]),
                type="aws:dynamodb/table:Table (replica)",
                region=region,
                how="replica removed",
                protected_by="deletion protection" if protected else "",
                loses="the replica and its items (other replicas keep what was replicated)",
            )
        )
    return gone


def compare(previous: PreviousReport, current: list[dict[str, Any]]) -> Changes:
    """Changes from the earlier report to `current` (this run's report resources)."""
    now = {resource["urn"]: resource for resource in current}
    changes = Changes(against=str(previous.path))
    for urn, resource in now.items():
        if urn not in previous.resources and resource.get("custom", True):
            changes.created.append(
                {"urn": urn, "type": resource.get("type"), "region": resource.get("region")}
            )
    for urn, before in previous.resources.items():
        if not before.get("custom", True) or before.get("type") == "pulumi:pulumi:Stack":
            continue
        after = now.get(urn)
        if after is None:
            changes.deleted.append(_delete(before, "removed"))
        else:
            changes.deleted.extend(_replaced_or_trimmed(before, after))
    return changes


def check_same_stack(previous: PreviousReport, project: str, stack: str) -> None:
    """URNs name the project and the stack: a report of another one shares no URN."""
    if (previous.project, previous.stack) != (project, stack):
        raise UsageError(
            f"{_OPTION} {previous.path}: a report of stack {previous.stack!r} of project "
            f"{previous.project!r}, this preview is of stack {stack!r} of project {project!r}; "
            "URNs name both, so compare reports of the same stack"
        )
