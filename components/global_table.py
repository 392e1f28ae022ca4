"""GlobalTable: one DynamoDB table replicated to every region the service runs in."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds

from .inputs import as_args, schema_args
from .outputs import declared_outputs
from .tokens import component_type, keep_previous_token

#: `eventual`: multi-Region eventual consistency (MREC, DynamoDB's default); `strong`:
#: multi-Region strong consistency (MRSC).
CONSISTENCY_MODES: Final[tuple[str, ...]] = ("eventual", "strong")
#: A table whose replicas are STRONG is refused any of these by DynamoDB (developer guide,
#: V2globaltables_HowItWorks.html): TTL, local secondary indexes, transactions.
MRSC_UNSUPPORTED: Final[str] = "TTL, local secondary indexes and transactions"


def mrsc_region_problems(regions: Sequence[str], witness: str | None) -> dict[str, str]:
    """What keeps `regions` (the table's and its replicas') and `witness` from forming a
    strongly consistent table, keyed by "regions" or "witness"; each message says why, the
    caller adds the names and the fix."""
    problems: dict[str, str] = {}
    participants = [*regions, *([witness] if witness else [])]
    if witness is not None and witness in regions:
        problems["witness"] = (
            f"{witness} also holds a replica; a witness is a third region that holds none"
        )
    elif len(participants) != thresholds.MRSC_REGION_COUNT:
        problems["witness" if len(regions) == 2 and witness is None else "regions"] = (
            f"a strongly consistent table spans exactly {thresholds.MRSC_REGION_COUNT} regions "
            "(the table's and two replicas, or one replica and a witness), got "
            f"{len(participants)}: {', '.join(participants)}"
        )
    elif thresholds.mrsc_region_group(participants) is None:
        problems["regions"] = (
            f"{', '.join(participants)} cannot form a strongly consistent table: all three must "
            f"come from {' or '.join(thresholds.MRSC_REGION_GROUPS)} "
            f"({', '.join(sorted(set().union(*thresholds.MRSC_REGION_GROUPS.values())))})"
        )
    return problems


def suggested_witness(regions: Sequence[str]) -> str:
    """A witness region for two replica regions: from their MRSC group, on the first region's
    continent when one is left there (the witness is in every write's quorum)."""
    candidates = [
        region
        for group in thresholds.MRSC_REGION_GROUPS.values()
        if set(regions) <= group
        for region in sorted(group)
        if region not in regions
    ]
    continent = regions[0].split("-")[0] if regions else ""
    same = [region for region in candidates if region.startswith(continent + "-")]
    return (same or candidates or ["us-east-2"])[0]


@schema_args
@dataclass
class GlobalTableArgs:
    """Key schema and protection of a global table. The table resource lives in `home_region`
    (the first of `regions` unless given); every other region gets a replica (all replicas are
    writable: active-active)."""

    regions: Sequence[str]
    """The regions: the table lives in the home region, every other one holds a replica."""
    hash_key: str = "pk"
    """The partition key (a string attribute)."""
    range_key: str | None = None
    """The sort key (a string attribute), if any."""
    attributes: Mapping[str, str] = field(default_factory=dict)
    """Extra attribute definitions beyond the keys, e.g. for indexes: name -> S|N|B."""
    ttl_attribute: str | None = "expiresAt"
    """The attribute DynamoDB expires items by."""
    deletion_protection: bool = True
    """Deletion protection of the table and its replicas."""
    retiring_regions: Sequence[str] = ()
    """Replica regions about to be removed: their replica's deletion protection is turned off, so
    that the next update, which drops them from `regions`, can delete the replica (the provider
    does not turn it off before deleting). Every other copy keeps it on."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the table and its replicas."""
    home_region: str | None = None
    """Where the table resource lives; unset: the first of `regions`. Name it to keep the table
    in place when `regions` is reordered: moving it replaces the table."""
    consistency: str = "eventual"
    """`eventual` (replicas converge, typically within a second; the last writer wins) or `strong`
    (a write returns once a second region has it; exactly three regions: `regions` and
    `witnessRegion` together; no TTL). Changing it replaces the table with a new, empty one."""
    witness_region: str | None = None
    """With `strong` consistency and two `regions`: the third region, a witness that holds no
    readable copy and is not in your account, but takes part in every write."""

    @property
    def home(self) -> str:
        """The region of the table resource."""
        return self.home_region or self.regions[0]

    def validate(self) -> None:
        if not self.regions:
            raise ValueError("GlobalTableArgs.regions: give at least one region.")
        if len(set(self.regions)) != len(self.regions):
            raise ValueError(f"GlobalTableArgs.regions: {list(self.regions)} lists a region twice.")
        if self.home_region is not None and self.home_region not in self.regions:
            raise ValueError(
                f"GlobalTableArgs.home_region: {self.home_region!r} is not in regions "
                f"{list(self.regions)}; the table lives in one of its regions."
            )
        for region in self.retiring_regions:
            if region not in self.regions:
                raise ValueError(
                    f"GlobalTableArgs.retiring_regions: {region!r} is not in regions "
                    f"{list(self.regions)}; a replica retires while it still exists."
                )
            if region == self.home:
                raise ValueError(
                    f"GlobalTableArgs.retiring_regions: {region!r} holds the table itself "
                    "(home_region, else regions[0]), not a replica; only replicas can retire."
                )
        for attribute, kind in self.attributes.items():
            if kind not in ("S", "N", "B"):
                raise ValueError(
                    f"GlobalTableArgs.attributes[{attribute!r}]: {kind!r} must be 'S', 'N' or 'B'."
                )
        self._validate_consistency()

    def _validate_consistency(self) -> None:
        # Named with the schema's property names: other languages set these.
        if self.consistency not in CONSISTENCY_MODES:
            raise ValueError(
                f"GlobalTableArgs.consistency: {self.consistency!r} must be one of "
                f"{', '.join(CONSISTENCY_MODES)}."
            )
        if self.consistency == "eventual":
            if self.witness_region is not None:
                raise ValueError(
                    f"GlobalTableArgs.witnessRegion: {self.witness_region!r} is only for "
                    "consistency 'strong'; remove it, or set consistency to 'strong'."
                )
            return
        for key, problem in mrsc_region_problems(self.regions, self.witness_region).items():
            fix = (
                f"set witnessRegion, e.g. {suggested_witness(self.regions)!r}"
                if key == "witness" and self.witness_region is None
                else "choose three regions of one group"
            )
            name = "witnessRegion" if key == "witness" else "regions"
            raise ValueError(f"GlobalTableArgs.{name}: {problem}; {fix}.")
        if self.ttl_attribute is not None:
            raise ValueError(
                f"GlobalTableArgs.ttlAttribute: {self.ttl_attribute!r}, but a strongly consistent "
                f"table supports no {MRSC_UNSUPPORTED}; set ttlAttribute to null and check expiry "
                "on read (DynamoDB then never deletes expired items)."
            )
        if self.retiring_regions:
            raise ValueError(
                f"GlobalTableArgs.retiringRegions: {list(self.retiring_regions)}, but a strongly "
                "consistent table cannot add or remove one replica or its witness; it keeps its "
                "three regions until it is replaced. Leave retiringRegions empty."
            )


class GlobalTable(pulumi.ComponentResource):
    """PAY_PER_REQUEST table with replicas, NEW_AND_OLD_IMAGES stream (global tables need it),
    point-in-time recovery on the table and every replica, deletion protection and a TTL.

    With `strong` consistency: STRONG replicas (and a witness), no stream (MRSC does not
    replicate through it, and nothing here reads it) and no TTL (MRSC does not support it).

    Removing a replica region takes two updates: list it in `retiring_regions` (its deletion
    protection goes off), then drop it from `regions` and `retiring_regions` (the replica is
    deleted)."""

    table_name: pulumi.Output[str]
    """The table's name (the same in every region)."""
    table_arn: pulumi.Output[str]
    """The ARN of the table in its first region."""

    def __init__(
        self,
        name: str,
        args: GlobalTableArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            component_type("GlobalTable"), name, None, keep_previous_token("GlobalTable", opts)
        )
        args = as_args(GlobalTableArgs, args)
        args.validate()
        self.regions = tuple(args.regions)
        home = args.home
        replica_regions = [region for region in self.regions if region != home]

        key_types = {args.hash_key: "S"}
        if args.range_key:
            key_types[args.range_key] = "S"
        key_types.update(args.attributes)
        strong = args.consistency == "strong"
        # The provider updates a mode change in place (consistency_mode and the witness are not
        # ForceNew), which DynamoDB refuses for a table holding items: MRSC is set up only on an
        # empty table, and a table's mode never changes. Replacing the table is what a change
        # of mode is; with STRONG replicas a change of regions is one too (MRSC allows no
        # replica or witness to be added or removed alone).
        replaced_on = ["replicas[*].consistencyMode", "globalTableWitness"]
        if strong:
            replaced_on.append("replicas[*].regionName")

        self.table = aws.dynamodb.Table(
            f"{name}-table",
            region=home,
            billing_mode="PAY_PER_REQUEST",
            hash_key=args.hash_key,
            range_key=args.range_key,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=key, type=kind)
                for key, kind in key_types.items()
            ],
            stream_enabled=not strong,
            stream_view_type=None if strong else "NEW_AND_OLD_IMAGES",
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=args.ttl_attribute, enabled=True)
            if args.ttl_attribute
            else None,
            replicas=[
                aws.dynamodb.TableReplicaArgs(
                    region_name=region,
                    point_in_time_recovery=True,
                    deletion_protection_enabled=args.deletion_protection
                    and region not in args.retiring_regions,
                    propagate_tags=True,
                    consistency_mode="STRONG" if strong else None,
                )
                for region in replica_regions
            ],
            global_table_witness=aws.dynamodb.TableGlobalTableWitnessArgs(
                region_name=args.witness_region
            )
            if args.witness_region
            else None,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=replaced_on),
        )
        self._identity = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self._partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.register_outputs(declared_outputs(self))

    def arn_in(self, region: str) -> pulumi.Output[str]:
        """The ARN of the table's copy in `region` (the table itself or its replica), so a
        function's IAM can be scoped to the copy it talks to."""
        if region not in self.regions:
            raise ValueError(
                f"GlobalTable.arn_in: {region!r} has no replica; the table spans {list(self.regions)}."
            )
        return pulumi.Output.all(
            self._partition.partition, self._identity.account_id, self.table.name
        ).apply(lambda parts: f"arn:{parts[0]}:dynamodb:{region}:{parts[1]}:table/{parts[2]}")
