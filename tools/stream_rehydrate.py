"""Re-hydrate what a Kinesis consumer gave up on: read the records its on-failure queue points
to from the stream, before the stream's retention drops them, then replay or park them.

Lambda's on-failure destination for a stream mapping receives a pointer, not the records:

    {"requestContext": {"condition": "RetryAttemptsExhausted", ...},
     "KinesisBatchInfo": {"shardId": "shardId-000000000000", "startSequenceNumber": "...",
                          "endSequenceNumber": "...", "batchSize": 1, "streamArn": "...", ...}}

so the payloads are only in the stream, for its retention (24 hours by default). This tool
reads each pointer's sequence range back (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords up to
the end of the range) and then, per pointer, either

- replays the records into the stream (PutRecords with their partition keys: the consumer
  reads them again; it records each event once, so a record that already succeeded is a
  harmless repeat), or
- parks them in a JSON Lines file (data base64-encoded, with the stream position), for a fix
  and a later look.

A pointer is deleted from the queue only when its whole range was read and acted on. A range
whose records are partly gone (retention passed, or the shard no longer exists) is reported and
left in the queue, unless `--allow-partial` accepts acting on what is left.

    python -m tools.stream_rehydrate --queue-url URL --region eu-west-1 --park parked.jsonl
    python -m tools.stream_rehydrate --queue-url URL --region eu-west-1 --replay
    python -m tools.stream_rehydrate --queue-url URL --region eu-west-1 --dry-run
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TextIO

#: Kinesis' largest PutRecords call.
PUT_RECORDS_LIMIT: Final[int] = 500
#: GetRecords calls per pointer before giving up on reaching the end of its range: a range is
#: one failed batch (at most 10 000 records), read 1 000 at a time.
MAX_READS_PER_POINTER: Final[int] = 50
#: What a pointer's queue gets between receives (s): long enough to act on a batch of ten.
VISIBILITY_TIMEOUT_S: Final[int] = 300


class PointerError(ValueError):
    """A queue message that is not a Kinesis on-failure record."""


@dataclass(frozen=True)
class FailurePointer:
    """Where the records a mapping gave up on are: one shard, one sequence range."""

    stream_arn: str
    shard_id: str
    start_sequence: str
    end_sequence: str
    batch_size: int
    condition: str

    def covers(self, sequence_number: str) -> bool:
        # Sequence numbers are decimal strings of up to 128 bits: compare them as integers.
        return int(self.start_sequence) <= int(sequence_number) <= int(self.end_sequence)


@dataclass(frozen=True)
class StreamRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrived_at: str | None

    def to_json(self, stream_arn: str) -> dict[str, Any]:
        return {
            "streamArn": stream_arn,
            "shardId": self.shard_id,
            "sequenceNumber": self.sequence_number,
            "partitionKey": self.partition_key,
            "approximateArrivalTimestamp": self.arrived_at,
            "data": base64.b64encode(self.data).decode("ascii"),
        }


@dataclass
class Recovery:
    """The records of one pointer that are still in the stream."""

    pointer: FailurePointer
    records: list[StreamRecord]
    #: Why part of the range could not be read (None: all of it was).
    missing: str | None = None

    @property
    def complete(self) -> bool:
        return self.missing is None


@dataclass
class Report:
    pointers: int = 0
    records: int = 0
    acted_on: int = 0
    deleted: int = 0
    incomplete: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "pointers": self.pointers,
            "records": self.records,
            "actedOn": self.acted_on,
            "pointersDeleted": self.deleted,
            "incomplete": self.incomplete,
            "unreadableMessages": self.unreadable,
        }


def parse_pointer(body: str) -> FailurePointer:
    """An on-failure message body -> FailurePointer (PointerError when it is not one)."""
    try:
        message = json.loads(body)
        info = message["KinesisBatchInfo"]
        return FailurePointer(
            stream_arn=str(info["streamArn"]),
            shard_id=str(info["shardId"]),
            start_sequence=str(int(info["startSequenceNumber"])),
            end_sequence=str(int(info["endSequenceNumber"])),
            batch_size=int(info.get("batchSize", 0)),
            condition=str((message.get("requestContext") or {}).get("condition", "")),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise PointerError(f"not a Kinesis on-failure record: {error}") from None


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str((response or {}).get("Error", {}).get("Code", type(error).__name__))


def _timestamp(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return None if value is None else str(value)


def read_range(kinesis: Any, pointer: FailurePointer) -> Recovery:
    """The pointer's records, read from the stream from its first sequence number on."""
    try:
        iterator = kinesis.get_shard_iterator(
            StreamARN=pointer.stream_arn,
            ShardId=pointer.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=pointer.start_sequence,
        )["ShardIterator"]
    except Exception as error:  # the shard or the position is gone: nothing can be read
        return Recovery(pointer, [], f"cannot read from the range's start ({_error_code(error)})")
    found: list[StreamRecord] = []
    end = int(pointer.end_sequence)
    for _ in range(MAX_READS_PER_POINTER):
        if iterator is None:
            break
        answer = kinesis.get_records(
            StreamARN=pointer.stream_arn, ShardIterator=iterator, Limit=1000
        )
        for raw in answer.get("Records", []):
            sequence = str(raw["SequenceNumber"])
            if int(sequence) > end:
                return _checked(pointer, found)
            found.append(
                StreamRecord(
                    pointer.shard_id,
                    sequence,
                    str(raw["PartitionKey"]),
                    bytes(raw["Data"]),
                    _timestamp(raw.get("ApproximateArrivalTimestamp")),
                )
            )
        iterator = answer.get("NextShardIterator")
        if not answer.get("Records") and not answer.get("MillisBehindLatest"):
            break  # at the shard's tip: the range ends inside what was read
    return _checked(pointer, found)


def _checked(pointer: FailurePointer, found: list[StreamRecord]) -> Recovery:
    records = [record for record in found if pointer.covers(record.sequence_number)]
    if not records or records[0].sequence_number != pointer.start_sequence:
        return Recovery(pointer, records, "the range's first record is no longer in the stream")
    if records[-1].sequence_number != pointer.end_sequence:
        return Recovery(pointer, records, "the range's last record was not found in the stream")
    return Recovery(pointer, records)


def replay(kinesis: Any, recovery: Recovery) -> int:
    """Put the records back into their stream, in order. Raises when Kinesis refuses any."""
    records = recovery.records
    for start in range(0, len(records), PUT_RECORDS_LIMIT):
        chunk = records[start : start + PUT_RECORDS_LIMIT]
        answer = kinesis.put_records(
            StreamARN=recovery.pointer.stream_arn,
            Records=[
                {"Data": record.data, "PartitionKey": record.partition_key} for record in chunk
            ],
        )
        if answer.get("FailedRecordCount"):
            raise RuntimeError(
                f"Kinesis refused {answer['FailedRecordCount']} of {len(chunk)} replayed records; "
                "the pointer stays in the queue, run again"
            )
    return len(records)


def park(out: TextIO, recovery: Recovery) -> int:
    """Append the records to a JSON Lines file, one line per record."""
    for record in recovery.records:
        out.write(json.dumps(record.to_json(recovery.pointer.stream_arn), sort_keys=True) + "\n")
    out.flush()
    return len(recovery.records)


Action = Callable[[Recovery], int]


def rehydrate(
    sqs: Any,
    kinesis: Any,
    queue_url: str,
    action: Action | None,
    *,
    allow_partial: bool = False,
    max_pointers: int = 1000,
) -> Report:
    """Work through the on-failure queue. `action` None: read and report only (dry run)."""
    report = Report()
    seen: set[str] = set()
    while report.pointers + len(report.unreadable) < max_pointers:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=VISIBILITY_TIMEOUT_S,
        ).get("Messages", [])
        fresh = [message for message in messages if message["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            try:
                pointer = parse_pointer(message["Body"])
            except PointerError:
                report.unreadable.append(message["MessageId"])
                continue
            report.pointers += 1
            recovery = read_range(kinesis, pointer)
            report.records += len(recovery.records)
            if not recovery.complete:
                report.incomplete.append(
                    {
                        "messageId": message["MessageId"],
                        "shardId": pointer.shard_id,
                        "startSequenceNumber": pointer.start_sequence,
                        "endSequenceNumber": pointer.end_sequence,
                        "recovered": len(recovery.records),
                        "reason": recovery.missing,
                    }
                )
                if not allow_partial:
                    continue
            if action is None:
                continue
            report.acted_on += action(recovery)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            report.deleted += 1
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.stream_rehydrate",
        description="Re-read the Kinesis records a consumer's on-failure queue points to, then "
        "replay them into the stream or park them in a file.",
    )
    parser.add_argument("--queue-url", required=True, help="the mapping's on-failure SQS queue")
    parser.add_argument("--region", required=True, help="the region of the queue and the stream")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--replay", action="store_true", help="put the records back into the stream")
    what.add_argument(
        "--park", type=Path, metavar="FILE", help="append the records to FILE (JSONL)"
    )
    what.add_argument("--dry-run", action="store_true", help="read and report, change nothing")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="act on a range whose records are partly gone (and delete its pointer)",
    )
    parser.add_argument("--max-pointers", type=int, default=1000)
    args = parser.parse_args(argv)

    import boto3  # only the command needs it; the functions above take clients

    sqs = boto3.client("sqs", region_name=args.region)
    kinesis = boto3.client("kinesis", region_name=args.region)
    if args.dry_run:
        report = rehydrate(sqs, kinesis, args.queue_url, None, max_pointers=args.max_pointers)
    elif args.replay:
        report = rehydrate(
            sqs,
            kinesis,
            args.queue_url,
            lambda recovery: replay(kinesis, recovery),
            allow_partial=args.allow_partial,
            max_pointers=args.max_pointers,
        )
    else:
        with args.park.open("a", encoding="utf-8") as out:
            report = rehydrate(
                sqs,
                kinesis,
                args.queue_url,
                lambda recovery: park(out, recovery),
                allow_partial=args.allow_partial,
                max_pointers=args.max_pointers,
            )
    json.dump(report.to_json(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if report.incomplete or report.unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
