"""QueueWorker: offload work to a queue, consume it with partial batch failures, park poison
messages in a DLQ, and alarm on both."""

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

#: What Lambda's SQS poller calls on the queue on the function's behalf.
CONSUMER_QUEUE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)


def processing_window_s(
    max_receive_count: int,
    visibility_timeout_s: int,
    first_receive_slack_s: int = thresholds.QUEUE_OLDEST_MESSAGE_ALARM_S,
) -> int:
    """How long after a task is queued its message has left the work queue (done, or parked in
    the DLQ): every receive hides it for one visibility timeout, and before the first receive it
    waits at most as long as the oldest-message alarm allows before an operator is paged. The
    task API reads a task still PENDING after this as FAILED (TASK_PROCESSING_WINDOW_SECONDS).
    """
    return max_receive_count * visibility_timeout_s + first_receive_slack_s


@schema_args
@dataclass
class QueueWorkerArgs:
    """The consumer function and how it polls. The queue's timings are derived, not chosen."""

    consumer: FunctionArgs
    """The function that consumes the queue; it runs in the worker's region."""
    batch_size: int = 10
    """Messages per invocation (1..10000; above 10 needs a batching window)."""
    batching_window_s: int = 0
    """Seconds Lambda gathers a batch (0..300). Plain: the visibility timeout derives from it."""
    max_concurrency: int = thresholds.SQS_MAX_CONCURRENCY_DEFAULT
    """SQS maximum concurrency of the consumer (2..1000)."""
    max_receive_count: int = thresholds.MAX_RECEIVE_COUNT_DEFAULT
    """Receives before a message goes to the DLQ (3..10). Plain: the policy pack reads it."""
    message_retention_s: int = thresholds.DEFAULT_MESSAGE_RETENTION_S
    """Retention of the work queue in seconds, below the DLQ's 14 days."""
    visibility_ratio: int = thresholds.VISIBILITY_TIMEOUT_RATIO
    """Visibility timeout as a multiple of the consumer's timeout (at least 6)."""
    alarm_action_arn: pulumi.Input[str] | None = None
    """SNS topic (or any alarm action) for the DLQ-depth and oldest-message alarms."""
    oldest_message_alarm_s: int = thresholds.QUEUE_OLDEST_MESSAGE_ALARM_S
    """Age of the oldest message, in seconds, that raises the alarm."""
    region: str | None = None
    """The AWS region of the queue, its DLQ and the consumer."""

    def validate(self) -> None:
        try:
            self.consumer.validate()
        except ValueError as error:
            raise ValueError(f"QueueWorkerArgs.consumer: {error}") from error
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError(f"QueueWorkerArgs.batch_size: {self.batch_size} must be 1..10000.")
        if self.batch_size > 10 and self.batching_window_s < 1:
            raise ValueError(
                "QueueWorkerArgs.batching_window_s: Lambda requires a batching window of at least "
                f"1 s for SQS batches larger than 10 (batch_size={self.batch_size})."
            )
        if not 0 <= self.batching_window_s <= thresholds.MAX_BATCHING_WINDOW_S:
            raise ValueError(
                f"QueueWorkerArgs.batching_window_s: {self.batching_window_s} must be 0.."
                f"{thresholds.MAX_BATCHING_WINDOW_S} seconds."
            )
        if (
            not thresholds.SQS_MAX_CONCURRENCY_MIN
            <= self.max_concurrency
            <= thresholds.SQS_MAX_CONCURRENCY_MAX
        ):
            raise ValueError(
                f"QueueWorkerArgs.max_concurrency: {self.max_concurrency} must be "
                f"{thresholds.SQS_MAX_CONCURRENCY_MIN}..{thresholds.SQS_MAX_CONCURRENCY_MAX} "
                "(Lambda's limits for SQS maximum concurrency)."
            )
        if (
            not thresholds.MAX_RECEIVE_COUNT_MIN
            <= self.max_receive_count
            <= thresholds.MAX_RECEIVE_COUNT_MAX
        ):
            raise ValueError(
                f"QueueWorkerArgs.max_receive_count: {self.max_receive_count} must be "
                f"{thresholds.MAX_RECEIVE_COUNT_MIN}..{thresholds.MAX_RECEIVE_COUNT_MAX}: fewer "
                "sends throttled but healthy messages to the DLQ, more lets a poison message "
                "burn invocations."
            )
        if not 60 <= self.message_retention_s < thresholds.DLQ_RETENTION_S:
            raise ValueError(
                f"QueueWorkerArgs.message_retention_s: {self.message_retention_s} must be at least "
                f"60 and below the DLQ's {thresholds.DLQ_RETENTION_S} s, so a message that aged "
                "in the queue still has time in the DLQ."
            )
        if self.visibility_ratio < thresholds.VISIBILITY_TIMEOUT_RATIO:
            raise ValueError(
                f"QueueWorkerArgs.visibility_ratio: {self.visibility_ratio} is below the "
                f"{thresholds.VISIBILITY_TIMEOUT_RATIO}x AWS recommends; raise it."
            )
        if self.visibility_timeout_s > thresholds.MAX_QUEUE_VISIBILITY_TIMEOUT_S:
            raise ValueError(
                f"QueueWorkerArgs.consumer.timeout_s: {self.consumer.timeout_s} s needs a visibility "
                f"timeout of {self.visibility_timeout_s} s, above SQS's "
                f"{thresholds.MAX_QUEUE_VISIBILITY_TIMEOUT_S} s; shorten the consumer's timeout."
            )

    @property
    def visibility_timeout_s(self) -> int:
        return thresholds.required_visibility_timeout_s(
            self.consumer.timeout_s, self.batching_window_s, self.visibility_ratio
        )


class QueueWorker(pulumi.ComponentResource):
    """An SQS work queue, its DLQ and the Lambda that consumes it, in one region."""

    visibility_timeout_s: int
    """The queue's visibility timeout, derived from the consumer's timeout and batching window."""
    queue_url: pulumi.Output[str]
    """The work queue's URL."""
    queue_arn: pulumi.Output[str]
    """The work queue's ARN."""
    dead_letter_queue_url: pulumi.Output[str]
    """The DLQ's URL."""
    dead_letter_queue_arn: pulumi.Output[str]
    """The DLQ's ARN."""
    consumer_function_name: pulumi.Output[str]
    """The consumer function's name."""

    def __init__(
        self,
        name: str,
        args: QueueWorkerArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        region: str | None = None,
    ) -> None:
        super().__init__(
            component_type("QueueWorker"), name, None, keep_previous_token("QueueWorker", opts)
        )
        args = as_args(QueueWorkerArgs, args)
        region = placed_in("QueueWorkerArgs", args.region, region)
        args.validate()
        self.visibility_timeout_s = args.visibility_timeout_s
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.consumer.tags)

        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dlq",
            region=region,
            message_retention_seconds=thresholds.DLQ_RETENTION_S,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            region=region,
            visibility_timeout_seconds=self.visibility_timeout_s,
            message_retention_seconds=args.message_retention_s,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        # Standalone redrive resources: the inline JSON attributes show a permanent diff.
        self.redrive_policy = aws.sqs.RedrivePolicy(
            f"{name}-redrive",
            region=region,
            queue_url=self.queue.url,
            redrive_policy=pulumi.Output.json_dumps(
                {
                    "deadLetterTargetArn": self.dead_letter_queue.arn,
                    "maxReceiveCount": args.max_receive_count,
                }
            ),
            opts=child,
        )
        # Only this queue may dead-letter into the DLQ, which is also what lets a replay
        # (StartMessageMoveTask) move messages back to exactly this source.
        self.redrive_allow_policy = aws.sqs.RedriveAllowPolicy(
            f"{name}-redrive-allow",
            region=region,
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=pulumi.Output.json_dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [self.queue.arn]}
            ),
            opts=child,
        )

        consumer_args = dataclasses.replace(
            args.consumer,
            policy_statements=[
                *args.consumer.policy_statements,
                PolicyStatement(
                    sid="ConsumeWorkQueue",
                    actions=list(CONSUMER_QUEUE_ACTIONS),
                    resources=[self.queue.arn],
                ),
            ],
        )
        self.consumer = Function(f"{name}-consumer", consumer_args, region=region, opts=child)

        self.event_source_mapping = aws.lambda_.EventSourceMapping(
            f"{name}-mapping",
            region=region,
            event_source_arn=self.queue.arn,
            function_name=self.consumer.function.arn,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_s,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=args.max_concurrency
            ),
            # Lambda checks the role can read the queue when the mapping is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.consumer.role_policy]),
        )

        def queue_alarm(
            suffix: str,
            queue: aws.sqs.Queue,
            metric: str,
            threshold: float,
            evaluation_periods: int,
            description: str,
        ) -> aws.cloudwatch.MetricAlarm:
            return maximum_above(
                f"{name}-{suffix}",
                region=region,
                namespace="AWS/SQS",
                metric=metric,
                dimensions={"QueueName": queue.name},
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                description=description,
                alarm_action_arn=args.alarm_action_arn,
                opts=child,
            )

        self.dlq_depth_alarm = queue_alarm(
            "dlq-depth",
            self.dead_letter_queue,
            "ApproximateNumberOfMessagesVisible",
            thresholds.DLQ_DEPTH_ALARM_THRESHOLD,
            1,
            f"Messages in the DLQ of {name} ({region}): tasks that failed "
            f"{args.max_receive_count} times. Inspect, fix, then replay.",
        )
        self.oldest_message_alarm = queue_alarm(
            "oldest-message",
            self.queue,
            "ApproximateAgeOfOldestMessage",
            args.oldest_message_alarm_s,
            5,
            f"The oldest message in {name} ({region}) waited more than "
            f"{args.oldest_message_alarm_s} s: the consumer is not keeping up or is failing.",
        )
        self.queue_url = self.queue.url
        self.queue_arn = self.queue.arn
        self.dead_letter_queue_url = self.dead_letter_queue.url
        self.dead_letter_queue_arn = self.dead_letter_queue.arn
        self.consumer_function_name = self.consumer.function_name
        self.register_outputs(declared_outputs(self))
