"""GlobalTable: one DynamoDB table replicated to every region the service runs in."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .inputs import as_args, schema_args
from .tokens import component_type, keep_previous_token


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


class GlobalTable(pulumi.ComponentResource):
    """PAY_PER_REQUEST table with replicas, NEW_AND_OLD_IMAGES stream (global tables need it),
    point-in-time recovery on the table and every replica, deletion protection and a TTL.

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
            stream_enabled=True,
            stream_view_type="NEW_AND_OLD_IMAGES",
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
                )
                for region in replica_regions
            ],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._identity = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self._partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.register_outputs({"tableName": self.table.name, "tableArn": self.table.arn})

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
