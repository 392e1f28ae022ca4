"""DynamoDB global table replication between the regions' tasks tables on one moto server.

moto keeps each region's table apart and replicates nothing. Two emulators, one per mode of a
global table:

**Eventual (MREC, `Replicator`).** Every replica's changes are read from its own DynamoDB
Stream (moto supports Streams on a table; global tables replicate from theirs) and applied to
every other replica after `lag_s`. Conflicts resolve per item, last writer wins, the way AWS
implements it: a conditional write that requires the incoming item's timestamp to be greater
than the stored one's. The timestamp is the item's write time, its `updatedAt` (every write of
the handlers sets it, to the millisecond). The echo of a replicated write in its target's stream
fails that condition against itself and is dropped; a write refused because the target holds a
newer, different version is a resolved conflict (`conflicts`). `stall()` and `resume()` stop
and restart the apply loop: changes queue up, as a replication backlog does, and all are applied
on resume.

**Strong (MRSC, `install_strong_writes`).** A botocore hook on the handlers' own DynamoDB
clients, in each container: a write to the tasks table first takes the item's lease in a lease
table (a conditional put, so one writer in all regions at a time); a write that finds the lease
held by another region fails at once with `ReplicatedWriteConflictException`, as MRSC's does.
The write then goes out for real and, when it succeeded, the item as it now is is copied to
every other replica before the caller gets its reply: visible in every region before the write
returns. A hook, rather than one lock around the drill's tables, because the writes are made by
the handlers in their own processes: only a hook on their clients can hold their reply until
the other replicas have the item. MRSC has no Streams by default and the replication is already
done, so the eventual emulator does not run in this mode.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import boto3
from botocore.exceptions import ClientError

from .local_aws import CREDENTIALS

TASKS_TABLE: Final[str] = "tasks"
#: The key of the tasks table (components: `taskId`).
KEY: Final[str] = "taskId"
#: The write time every task write sets: the item's last-writer-wins timestamp.
WRITE_TIME: Final[str] = "updatedAt"


def _client(service: str, url: str, region: str) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=url, **CREDENTIALS)


def enable_streams(url: str, regions: Sequence[str], table: str = TASKS_TABLE) -> None:
    """Turn each replica's stream on (new and old images), as MREC global tables have it."""
    for region in regions:
        _client("dynamodb", url, region).update_table(
            TableName=table,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )


@dataclass
class _Change:
    source: str
    #: When the source wrote it (wall clock, seconds).
    written: float
    #: INSERT, MODIFY or REMOVE.
    event: str
    key: dict[str, Any]
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None


@dataclass
class Replicator:
    """Eventually consistent replication between every region's `table` (see the module)."""

    url: str
    regions: Sequence[str]
    lag_s: float
    table: str = TASKS_TABLE
    poll_s: float = 0.05
    #: Replicated writes applied / refused because the target held a newer, different version.
    applied: int = 0
    conflicts: int = 0
    _pending: list[_Change] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stalled: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _idle: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    #: Every change written before this (wall clock) has been read from the streams.
    _read_up_to: float = 0.0
    #: (target region, key, kind, write time) of each replicated write not yet seen echoed.
    _echoes: set[tuple[str, str, str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._dynamodb = {r: _client("dynamodb", self.url, r) for r in self.regions}
        self._streams = {r: _client("dynamodbstreams", self.url, r) for r in self.regions}
        self._iterators: dict[tuple[str, str], str | None] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def stall(self) -> None:
        self._stalled.set()

    def resume(self) -> None:
        self._stalled.clear()

    def drain(self, timeout_s: float) -> bool:
        """Wait until every change written so far is applied everywhere; False on timeout."""
        deadline = time.monotonic() + timeout_s
        mark = time.time()
        while time.monotonic() < deadline:
            with self._lock:
                read_up_to = self._read_up_to
                backlog = any(change.written <= mark for change in self._pending)
            if read_up_to > mark and not backlog:
                return True
            time.sleep(self.poll_s)
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.time()
            for region in self.regions:
                self._read(region)
            with self._lock:
                self._read_up_to = started
            if not self._stalled.is_set():
                self._apply_due()
            self._stop.wait(self.poll_s)

    def _read(self, region: str) -> None:
        streams = self._streams[region]
        arn = self._dynamodb[region].describe_table(TableName=self.table)["Table"][
            "LatestStreamArn"
        ]
        shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        for shard in shards:
            where = (region, shard["ShardId"])
            if where not in self._iterators:
                self._iterators[where] = streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[where]
            if iterator is None:
                continue
            answer = streams.get_records(ShardIterator=iterator)
            self._iterators[where] = answer.get("NextShardIterator")
            for record in answer["Records"]:
                data = record["dynamodb"]
                change = _Change(
                    region,
                    data["ApproximateCreationDateTime"].timestamp(),
                    record["eventName"],
                    data["Keys"],
                    data.get("NewImage"),
                    data.get("OldImage"),
                )
                if self._is_echo(change):
                    continue  # our own replicated write, seen in its target's stream
                with self._lock:
                    self._pending.append(change)

    @staticmethod
    def _version(change: _Change) -> tuple[str, str, str]:
        image = change.new_image if change.new_image is not None else change.old_image
        written = ((image or {}).get(WRITE_TIME) or {}).get("S", "")
        return change.key[KEY]["S"], "removed" if change.event == "REMOVE" else "written", written

    def _is_echo(self, change: _Change) -> bool:
        mark = (change.source, *self._version(change))
        with self._lock:
            if mark in self._echoes:
                self._echoes.discard(mark)
                return True
        return False

    def _apply_due(self) -> None:
        now = time.time()
        with self._lock:
            due = [c for c in self._pending if c.written + self.lag_s <= now]
            self._pending = [c for c in self._pending if c.written + self.lag_s > now]
        for change in due:
            for target in self.regions:
                if target != change.source:
                    self._apply(change, target)

    def _apply(self, change: _Change, target: str) -> None:
        dynamodb = self._dynamodb[target]
        try:
            if change.new_image is not None:
                written = change.new_image.get(WRITE_TIME)
                if written is None:
                    return  # not a task item: nothing to order it by
                dynamodb.put_item(
                    TableName=self.table,
                    Item=change.new_image,
                    ConditionExpression="attribute_not_exists(#key) OR #time < :time",
                    ExpressionAttributeNames={"#key": KEY, "#time": WRITE_TIME},
                    ExpressionAttributeValues={":time": written},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            else:
                old_time = (change.old_image or {}).get(WRITE_TIME)
                if old_time is None:
                    return
                # A delete (TTL) replicates unless the target has a newer write of the item.
                dynamodb.delete_item(
                    TableName=self.table,
                    Key=change.key,
                    ConditionExpression="attribute_not_exists(#key) OR #time <= :time",
                    ExpressionAttributeNames={"#key": KEY, "#time": WRITE_TIME},
                    ExpressionAttributeValues={":time": old_time},
                )
            with self._lock:
                self.applied += 1
                self._echoes.add((target, *self._version(change)))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # The target holds a write of its own that the source had not seen when it wrote
            # (echoes are dropped before this): concurrent writes, the later one won.
            self.conflicts += 1


#: The lease table of the strong mode, in the first region (MRSC's coordination is AWS's own;
#: its mechanism is not documented, only its effect).
LEASE_TABLE: Final[str] = "gameday-mrsc-leases"
LEASE_S: Final[float] = 5.0
_WRITES: Final = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
CONFLICT_BODY: Final[bytes] = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ReplicatedWriteConflictException",
        "message": "The item is being modified by a request in another Region.",
    }
).encode()


def create_lease_table(url: str, region: str) -> None:
    _client("dynamodb", url, region).create_table(
        TableName=LEASE_TABLE,
        AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


class _Body:
    """What botocore's AWSResponse reads a body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        yield self._body


@dataclass
class StrongWrites:
    """One container's side of the strong mode (see the module)."""

    url: str
    region: str
    regions: Sequence[str]
    #: Called for each write refused with ReplicatedWriteConflictException.
    on_conflict: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        self._dynamodb: Mapping[str, Any] = {
            r: _client("dynamodb", self.url, r) for r in self.regions
        }
        self._lease_region = self.regions[0]

    def _take_lease(self, key: str) -> bool:
        """True when this region holds the item's lease; False when another region does.
        Another writer of this region is waited for: a region orders its own writes."""
        leases = self._dynamodb[self._lease_region]
        while True:
            now = time.time()
            try:
                leases.put_item(
                    TableName=LEASE_TABLE,
                    Item={
                        KEY: {"S": key},
                        "region": {"S": self.region},
                        "until": {"N": f"{now + LEASE_S:.3f}"},
                    },
                    ConditionExpression="attribute_not_exists(#key) OR #until < :now",
                    ExpressionAttributeNames={"#key": KEY, "#until": "until"},
                    ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return True
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                holder = (error.response.get("Item") or {}).get("region", {}).get("S")
                if holder != self.region:
                    return False
            time.sleep(0.01)

    def _release(self, key: str) -> None:
        self._dynamodb[self._lease_region].delete_item(TableName=LEASE_TABLE, Key={KEY: {"S": key}})

    def _copy_everywhere(self, key: str) -> None:
        item = (
            self._dynamodb[self.region]
            .get_item(TableName=TASKS_TABLE, Key={KEY: {"S": key}}, ConsistentRead=True)
            .get("Item")
        )
        for region in self.regions:
            if region == self.region:
                continue
            if item is None:
                self._dynamodb[region].delete_item(TableName=TASKS_TABLE, Key={KEY: {"S": key}})
            else:
                self._dynamodb[region].put_item(TableName=TASKS_TABLE, Item=item)

    def install(self, client: Any, service: str) -> None:
        """An `aws_clients` client hook: registered last, so injected faults come first."""
        if service != "dynamodb":
            return
        from botocore.awsrequest import AWSResponse
        from botocore.httpsession import URLLib3Session

        read_timeout = float(client.meta.config.read_timeout or 60)

        def before_send(request: Any, **kwargs: Any) -> Any:
            target = request.headers.get("X-Amz-Target") or b""
            if isinstance(target, bytes):
                target = target.decode()
            operation = str(target).rsplit(".", 1)[-1]
            if operation not in _WRITES:
                return None
            body = json.loads(request.body or b"{}")
            if body.get("TableName") != TASKS_TABLE:
                return None
            key_attributes = body.get("Item") or body.get("Key") or {}
            key = (key_attributes.get(KEY) or {}).get("S")
            if key is None:
                return None
            if not self._take_lease(key):
                self.on_conflict()
                return AWSResponse(
                    request.url,
                    400,
                    {"Content-Type": "application/x-amz-json-1.0"},
                    _Body(CONFLICT_BODY),
                )
            try:
                reply = URLLib3Session(timeout=read_timeout).send(request)
                if reply.status_code == 200:
                    self._copy_everywhere(key)
                return reply
            finally:
                self._release(key)

        client.meta.events.register_last("before-send.dynamodb", before_send)
