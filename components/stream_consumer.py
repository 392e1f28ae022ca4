"""StreamConsumer: a Kinesis stream and the Lambda that consumes it, built so that one poison
record cannot block a shard and nothing skipped is lost unnoticed.

- The stream keeps records for `retention_hours` (24 by default): what a consumer skipped can
  be read again within that window, and no longer.
- The event source mapping reports batch item failures, bisects a failing batch, retries it a
  bounded number of times and gives up on records older than a bound; what it gives up on goes
  to an on-failure SQS queue as a pointer (shard, sequence range). `tools.stream_rehydrate`
  reads the records back from the stream by those pointers and replays or parks them.
- The on-failure queue has a depth alarm (every message there is a record skipped), and the
  consumer an iterator-age alarm (it is falling behind, long before records are skipped or
  expire).
"""

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds

from .alarms import maximum_above
from .function import Function, FunctionArgs
from .iam import PolicyStatement
from .inputs import as_args, placed_in, schema_args
from .outputs import declared_outputs
from .tokens import component_type, keep_previous_token

#: What Lambda's Kinesis poller calls on the stream with the function's role (standard
#: iterators; no enhanced fan-out, so no SubscribeToShard).
CONSUMER_STREAM_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
)


@schema_args
@dataclass
class StreamConsumerArgs:
    """The consumer function and how it reads the stream."""

    consumer: FunctionArgs
    """The function that consumes the stream; it runs in the component's region."""
    retention_hours: int = thresholds.KINESIS_RETENTION_HOURS_DEFAULT
    """How long the stream keeps records (24..8760): skipped records are re-read within it."""
    shard_count: int = 1
    """The stream's shards."""
    batch_size: int = 100
    """Records per invocation (1..10000)."""
    batching_window_s: int = 0
    """Seconds Lambda gathers a batch (0..300)."""
    max_retry_attempts: int = thresholds.KINESIS_CONSUMER_RETRY_ATTEMPTS
    """Retries of a failing batch before its records are skipped (bounded: the shard waits).
    Plain: the policy pack reads it."""
    max_record_age_s: int = thresholds.STREAM_MAX_RECORD_AGE_S
    """Age, in seconds, after which a record is skipped (60..3600)."""
    iterator_age_alarm_ms: int = thresholds.KINESIS_ITERATOR_AGE_ALARM_MS
    """Iterator age, in milliseconds, that raises the alarm (below the record age bound)."""
    starting_position: str = "TRIM_HORIZON"
    """TRIM_HORIZON or LATEST."""
    alarm_action_arn: pulumi.Input[str] | None = None
    """SNS topic (or any alarm action) for the on-failure queue and iterator-age alarms."""
    region: str | None = None
    """The AWS region of the stream, the consumer and the on-failure queue."""

    def validate(self) -> None:
        try:
            self.consumer.validate()
        except ValueError as error:
            raise ValueError(f"StreamConsumerArgs.consumer: {error}") from error
        if (
            not thresholds.KINESIS_RETENTION_HOURS_MIN
            <= self.retention_hours
            <= thresholds.KINESIS_RETENTION_HOURS_MAX
        ):
            raise ValueError(
                f"StreamConsumerArgs.retention_hours: {self.retention_hours} must be "
                f"{thresholds.KINESIS_RETENTION_HOURS_MIN}..{thresholds.KINESIS_RETENTION_HOURS_MAX}."
            )
        if not 1 <= self.shard_count <= 10_000:
            raise ValueError(
                f"StreamConsumerArgs.shard_count: {self.shard_count} must be 1..10000."
            )
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError(f"StreamConsumerArgs.batch_size: {self.batch_size} must be 1..10000.")
        if not 0 <= self.batching_window_s <= thresholds.MAX_BATCHING_WINDOW_S:
            raise ValueError(
                f"StreamConsumerArgs.batching_window_s: {self.batching_window_s} must be 0.."
                f"{thresholds.MAX_BATCHING_WINDOW_S} seconds."
            )
        if not 0 <= self.max_retry_attempts <= thresholds.STREAM_MAX_RETRY_ATTEMPTS:
            raise ValueError(
                f"StreamConsumerArgs.max_retry_attempts: {self.max_retry_attempts} must be 0.."
                f"{thresholds.STREAM_MAX_RETRY_ATTEMPTS}: a poison record is retried that many "
                "times while its shard waits."
            )
        if not 60 <= self.max_record_age_s <= thresholds.STREAM_MAX_RECORD_AGE_S:
            raise ValueError(
                f"StreamConsumerArgs.max_record_age_s: {self.max_record_age_s} must be 60.."
                f"{thresholds.STREAM_MAX_RECORD_AGE_S} s."
            )
        if not 0 < self.iterator_age_alarm_ms < self.max_record_age_s * 1000:
            raise ValueError(
                f"StreamConsumerArgs.iterator_age_alarm_ms: {self.iterator_age_alarm_ms} must be "
                f"positive and below the record age bound ({self.max_record_age_s * 1000} ms), "
                "so the alarm fires before records are skipped."
            )
        if self.starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError(
                f"StreamConsumerArgs.starting_position: {self.starting_position!r} must be "
                "TRIM_HORIZON or LATEST."
            )
        window_h = self.retention_hours - self.max_record_age_s / 3600
        if window_h < thresholds.KINESIS_MIN_REPLAY_WINDOW_HOURS:
            raise ValueError(
                f"StreamConsumerArgs.retention_hours: {self.retention_hours} h leaves "
                f"{window_h:g} h to re-read a record after the mapping gives up on it (at "
                f"{self.max_record_age_s} s); raise it to at least "
                f"{thresholds.KINESIS_MIN_REPLAY_WINDOW_HOURS + self.max_record_age_s / 3600:g}."
            )


class StreamConsumer(pulumi.ComponentResource):
    """A Kinesis stream, its consumer, the mapping between them, the on-failure queue and the
    alarms, in one region."""

    stream_arn: pulumi.Output[str]
    """The stream's ARN."""
    stream_name: pulumi.Output[str]
    """The stream's name."""
    failures_queue_url: pulumi.Output[str]
    """The on-failure queue's URL (what `tools.stream_rehydrate --queue-url` takes)."""
    consumer_function_name: pulumi.Output[str]
    """The consumer function's name."""

    def __init__(
        self,
        name: str,
        args: StreamConsumerArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        region: str | None = None,
    ) -> None:
        super().__init__(
            component_type("StreamConsumer"),
            name,
            None,
            keep_previous_token("StreamConsumer", opts),
        )
        args = as_args(StreamConsumerArgs, args)
        region = placed_in("StreamConsumerArgs", args.region, region)
        args.validate()
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.consumer.tags)

        self.stream = aws.kinesis.Stream(
            f"{name}-stream",
            region=region,
            shard_count=args.shard_count,
            retention_period=args.retention_hours,
            stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(stream_mode="PROVISIONED"),
            encryption_type="KMS",
            kms_key_id="alias/aws/kinesis",
            tags=tags,
            opts=child,
        )
        # Pointers to what the mapping skipped: kept 14 days, far longer than the records they
        # point to (the stream's retention), so the queue is never what loses them.
        self.failures = aws.sqs.Queue(
            f"{name}-failures",
            region=region,
            message_retention_seconds=thresholds.DLQ_RETENTION_S,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        consumer_args = dataclasses.replace(
            args.consumer,
            policy_statements=[
                *args.consumer.policy_statements,
                PolicyStatement(
                    sid="ReadStream",
                    actions=list(CONSUMER_STREAM_ACTIONS),
                    resources=[self.stream.arn],
                ),
                # Lambda sends the on-failure record with the function's role.
                PolicyStatement(
                    sid="SendFailurePointers",
                    actions=["sqs:SendMessage"],
                    resources=[self.failures.arn],
                ),
            ],
        )
        self.consumer = Function(f"{name}-consumer", consumer_args, region=region, opts=child)
        self.event_source_mapping = aws.lambda_.EventSourceMapping(
            f"{name}-mapping",
            region=region,
            event_source_arn=self.stream.arn,
            function_name=self.consumer.function.arn,
            starting_position=args.starting_position,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_s,
            function_response_types=["ReportBatchItemFailures"],
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=args.max_retry_attempts,
            maximum_record_age_in_seconds=args.max_record_age_s,
            destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                    destination_arn=self.failures.arn
                )
            ),
            # Lambda checks the role can read the stream when the mapping is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.consumer.role_policy]),
        )

        self.failures_alarm = maximum_above(
            f"{name}-failures-depth",
            region=region,
            namespace="AWS/SQS",
            metric="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self.failures.name},
            threshold=thresholds.DLQ_DEPTH_ALARM_THRESHOLD,
            evaluation_periods=1,
            description=(
                f"Records {name} ({region}) gave up on: re-read them with "
                "`python -m tools.stream_rehydrate` before the stream's "
                f"{args.retention_hours} h retention drops them."
            ),
            alarm_action_arn=args.alarm_action_arn,
            opts=child,
        )
        self.iterator_age_alarm = maximum_above(
            f"{name}-iterator-age",
            region=region,
            namespace="AWS/Lambda",
            metric="IteratorAge",
            dimensions={"FunctionName": self.consumer.function.name},
            threshold=args.iterator_age_alarm_ms,
            # One minute over the threshold is enough: the threshold itself is already minutes.
            evaluation_periods=1,
            description=(
                f"{name} ({region}) is more than {args.iterator_age_alarm_ms // 1000} s behind "
                f"its stream: records are skipped at {args.max_record_age_s} s and expire at "
                f"{args.retention_hours} h."
            ),
            alarm_action_arn=args.alarm_action_arn,
            opts=child,
        )
        self.stream_arn = self.stream.arn
        self.stream_name = self.stream.name
        self.failures_queue_url = self.failures.url
        self.consumer_function_name = self.consumer.function_name
        self.register_outputs(declared_outputs(self))
