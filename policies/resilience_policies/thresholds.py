"""The resilience numbers, in one place.

Both sides read this module: the components derive the values they deploy from it, and the
policy pack checks deployed values against it (its config defaults come from here). It imports
nothing but the standard library, so the pack's start-up stays light and the components can
import it without pulling in the policy SDK.

Every number carries the reason it has the value it has.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

# --- Timeouts that fit together -------------------------------------------------------------

#: AWS Lambda docs: set the source queue's visibility timeout to at least six times the
#: function's timeout, so a message is not handed to a second consumer while the first one is
#: still working on it (and retries after throttling have room).
VISIBILITY_TIMEOUT_RATIO: Final[int] = 6

#: API Gateway's integration timeout for REST APIs (29 s). A Lambda behind it that runs longer
#: keeps working (and paying) after the client already got a 504.
API_GATEWAY_INTEGRATION_TIMEOUT_MS: Final[int] = 29_000

#: API Gateway's integration timeout for HTTP APIs (30 s), a hard limit no quota raises. The
#: pack reads an HTTP API integration against it whatever the REST limit is configured to.
HTTP_API_INTEGRATION_TIMEOUT_MS: Final[int] = 30_000
#: WebSocket APIs (also `apigatewayv2`) keep the REST default of 29 s.
WEBSOCKET_API_INTEGRATION_TIMEOUT_MS: Final[int] = 29_000

#: How much earlier than the integration the function must time out, so the function's own
#: timeout error (logged, traced, counted) fires before API Gateway gives up on it.
API_FUNCTION_TIMEOUT_MARGIN_MS: Final[int] = 1_000

#: AWS defaults used when a resource leaves the value unset.
DEFAULT_LAMBDA_TIMEOUT_S: Final[int] = 3
DEFAULT_QUEUE_VISIBILITY_TIMEOUT_S: Final[int] = 30
DEFAULT_MESSAGE_RETENTION_S: Final[int] = 4 * 24 * 3600  # 345 600 s, 4 days
MAX_MESSAGE_RETENTION_S: Final[int] = 14 * 24 * 3600  # 1 209 600 s, 14 days
MAX_QUEUE_VISIBILITY_TIMEOUT_S: Final[int] = 12 * 3600  # 43 200 s, SQS hard limit
MAX_LAMBDA_TIMEOUT_S: Final[int] = 900
MAX_BATCHING_WINDOW_S: Final[int] = 300
#: API Gateway's smallest integration timeout; a configured limit below it could never be met.
API_GATEWAY_MIN_INTEGRATION_TIMEOUT_MS: Final[int] = 50

# --- Dead-letter queues ----------------------------------------------------------------------

#: A DLQ keeps messages for the SQS maximum, so an incident that lasts a long weekend still
#: leaves something to replay. It must also outlive its source queue's retention, or messages
#: that already aged in the source expire in the DLQ before anyone looks.
DLQ_RETENTION_S: Final[int] = MAX_MESSAGE_RETENTION_S

#: maxReceiveCount: below 3 a throttled or briefly failing consumer sends healthy messages to the
#: DLQ (Lambda's poller receives messages it cannot run when concurrency is capped); above 10 a
#: poison message burns that many invocations (and visibility timeouts) before it is parked.
MAX_RECEIVE_COUNT_DEFAULT: Final[int] = 5
MAX_RECEIVE_COUNT_MIN: Final[int] = 3
MAX_RECEIVE_COUNT_MAX: Final[int] = 10

#: The DLQ depth alarm fires on the first message: every message there is a failed task.
DLQ_DEPTH_ALARM_THRESHOLD: Final[int] = 0

#: Age of the oldest message in a work queue before it alarms: the consumer is not keeping up.
QUEUE_OLDEST_MESSAGE_ALARM_S: Final[int] = 600

# --- Event source mappings -------------------------------------------------------------------

#: Lambda's SQS poller needs at least 2 for maximum concurrency; the default caps how hard one
#: region's workers can hit the shared table (throttling everywhere).
SQS_MAX_CONCURRENCY_MIN: Final[int] = 2
SQS_MAX_CONCURRENCY_MAX: Final[int] = 1000
SQS_MAX_CONCURRENCY_DEFAULT: Final[int] = 10
#: Records per batch when an event source mapping leaves `batch_size` unset: AWS's defaults
#: (https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html#lambda-CreateEventSourceMapping-request-BatchSize).
SQS_DEFAULT_BATCH_SIZE: Final[int] = 10
STREAM_DEFAULT_BATCH_SIZE: Final[int] = 100

#: Stream mappings: a poison record blocks its shard until it succeeds, expires or is skipped.
#: Bisect on error isolates it, a finite retry count and a record age bound let the shard move
#: on, and the on-failure destination keeps what was skipped.
#: The retry count is a ceiling each team sets (the policy's config): what makes a poison record
#: unable to block a shard for good is that a bound exists at all (Lambda's default, -1, retries
#: until the record expires). Ten retries ride out a transient failure (throttling, a brief
#: outage of a dependency) without parking good records, and the record age bound below caps in
#: time how long any record can hold its shard, whatever the count.
STREAM_MAX_RETRY_ATTEMPTS: Final[int] = 10
STREAM_MAX_RECORD_AGE_S: Final[int] = 3600
#: Lambda's own ceilings for those two settings on stream mappings: a configured bound above
#: them would accept values AWS refuses.
STREAM_RETRY_ATTEMPTS_LIMIT: Final[int] = 10_000
STREAM_RECORD_AGE_LIMIT_S: Final[int] = 604_800  # 7 days

# --- Kinesis streams -------------------------------------------------------------------------

#: A Kinesis stream keeps records for 24 hours unless told otherwise (and never less): the window
#: in which a record a consumer skipped can still be read again. Longer costs per shard-hour.
KINESIS_RETENTION_HOURS_DEFAULT: Final[int] = 24
KINESIS_RETENTION_HOURS_MIN: Final[int] = 24
KINESIS_RETENTION_HOURS_MAX: Final[int] = 8760  # 365 days, Kinesis' own ceiling
#: What must be left of the retention once a consumer gives up on a record (at its mapping's
#: maximum record age): the on-failure destination holds only a pointer (shard, sequence range),
#: so someone has to notice the alarm and re-read the record within this window. Half a day
#: covers a night without on-call wake-ups.
KINESIS_MIN_REPLAY_WINDOW_HOURS: Final[int] = 12
#: IteratorAge of a stream consumer before it alarms: five minutes behind means the consumer is
#: failing or too slow, long before records reach the mapping's maximum record age (an hour) and
#: are skipped, and far from the stream's retention (a day) when they are lost.
KINESIS_ITERATOR_AGE_ALARM_MS: Final[int] = 300_000
#: An iterator-age alarm must fire this long before the first record of its consumer is lost:
#: skipped at the mapping's maximum record age, or expired at the stream's retention (whichever
#: comes first). Thirty minutes is enough to be paged and to start fixing the consumer.
KINESIS_ITERATOR_AGE_MARGIN_MS: Final[int] = 30 * 60_000
#: No ceiling is asked below this, however short the record age: Lambda's IteratorAge reaches a
#: minute under ordinary batching windows and retries, and an alarm below it pages for nothing.
KINESIS_ITERATOR_AGE_FLOOR_MS: Final[int] = 60_000


def kinesis_iterator_age_ceiling_ms(
    max_record_age_s: float | None, retention_hours: float | None, margin_ms: int, floor_ms: int
) -> int:
    """The highest iterator-age alarm threshold that still fires `margin_ms` before a record is
    lost: skipped at the mapping's `maximum_record_age_in_seconds` (-1 or None: infinite, the
    retention decides) or expired at the stream's `retention_period` (hours; None: the default),
    never below `floor_ms`."""
    retention_ms = (retention_hours or KINESIS_RETENTION_HOURS_DEFAULT) * 3_600_000
    horizon_ms = retention_ms
    if max_record_age_s is not None and max_record_age_s >= 0:
        horizon_ms = min(horizon_ms, max_record_age_s * 1000)
    return int(max(horizon_ms - margin_ms, floor_ms))


#: Retries of a failing Kinesis batch before the mapping gives up on it (with bisect on error,
#: each retry halves the batch, so three isolate a poison record in a batch of eight and the rest
#: succeed). Below STREAM_MAX_RETRY_ATTEMPTS, the policy's ceiling.
KINESIS_CONSUMER_RETRY_ATTEMPTS: Final[int] = 3

# --- Step Functions sagas ----------------------------------------------------------------------

#: Retry of a saga step on a transient error (throttling, a 5xx): the first retry after one
#: second, doubling, at most three retries and never more than ten seconds apart, with full
#: jitter so that executions failing together do not retry together.
SAGA_RETRY_INTERVAL_S: Final[int] = 1
SAGA_RETRY_MAX_ATTEMPTS: Final[int] = 3
SAGA_RETRY_BACKOFF_RATE: Final[float] = 2.0
SAGA_RETRY_MAX_DELAY_S: Final[int] = 10
#: Compensations must outlast what makes them fail (a throttled or failing table, a role being
#: fixed): any error is retried, from 2 s doubling to at most 10 min apart, 20 times: about
#: 2 h of waits before full jitter, about 1 h after it. Only then is the saga left to repair.
SAGA_COMPENSATION_INTERVAL_S: Final[int] = 2
SAGA_COMPENSATION_MAX_ATTEMPTS: Final[int] = 20
SAGA_COMPENSATION_MAX_DELAY_S: Final[int] = 600
#: Step Functions logging levels, most to least detailed; a saga's execution history is its
#: audit trail, so the pack's default asks for ALL.
STATE_MACHINE_LOG_LEVELS: Final[tuple[str, ...]] = ("ALL", "ERROR", "FATAL", "OFF")

# --- Point-in-time recovery ------------------------------------------------------------------

#: DynamoDB keeps continuous backups for 35 days unless `recoveryPeriodInDays` says fewer.
PITR_RECOVERY_PERIOD_MAX_DAYS: Final[int] = 35
#: Shortest recovery window worth having: a bad write noticed after a long weekend (the same
#: reasoning as the log retention floor) can still be undone.
PITR_RECOVERY_PERIOD_MIN_DAYS: Final[int] = 7

# --- API throttling --------------------------------------------------------------------------

API_THROTTLE_BURST_LIMIT_DEFAULT: Final[int] = 200
API_THROTTLE_RATE_LIMIT_DEFAULT: Final[float] = 100.0
#: API Gateway's default account-level limits per region. A stage limit above them does not
#: protect the backend: the account limit (shared by every API) is reached first.
API_ACCOUNT_BURST_LIMIT: Final[int] = 5_000
API_ACCOUNT_RATE_LIMIT_RPS: Final[float] = 10_000.0

# --- Health checks and failover --------------------------------------------------------------

#: Route53 accepts only these request intervals (seconds).
HEALTH_CHECK_INTERVALS_S: Final[tuple[int, ...]] = (10, 30)
HEALTH_CHECK_INTERVAL_DEFAULT_S: Final[int] = 30
HEALTH_CHECK_FAILURE_THRESHOLD_DEFAULT: Final[int] = 3
HEALTH_CHECK_FAILURE_THRESHOLD_MIN: Final[int] = 1
HEALTH_CHECK_FAILURE_THRESHOLD_MAX: Final[int] = 10
#: Alias records to API Gateway regional domains are answered with a 60 s TTL.
ALIAS_RECORD_TTL_S: Final[int] = 60
#: How the latency-routed name points at a region: an alias A record (queries to it are free,
#: resolvers cache it for the target's 60 s) or a CNAME to the region's API Gateway name with its
#: own TTL (queries are billed, a shorter TTL means more of them, but failover is faster).
DNS_RECORD_TYPES: Final[tuple[str, ...]] = ("alias", "cname")
DNS_RECORD_TYPE_DEFAULT: Final[str] = "alias"
#: Bounds for a CNAME's TTL: below 10 s many resolvers raise it anyway; above an hour it no
#: longer routes around a region in any useful time.
DNS_CNAME_TTL_MIN_S: Final[int] = 10
DNS_CNAME_TTL_MAX_S: Final[int] = 3600
DNS_CNAME_TTL_DEFAULT_S: Final[int] = 60
#: What the production stack aims for: health-check detection plus one TTL, nominally.
NOMINAL_FAILOVER_TARGET_S: Final[int] = 60
#: Throttling of the route only Route53's health checkers call (its path carries a secret
#: segment). Route53 documents about one request every two seconds per endpoint at the 30 s
#: interval and "more than once per second" at 10 s, from checkers that do not coordinate; ten
#: requests a second (burst twenty) leaves that several times over, and keeps the route cheap if
#: its path ever leaks. Its own limits, not the public routes': a flood that exhausts a public
#: method's bucket never reaches this one.
HEALTH_PROBE_RATE_LIMIT_RPS: Final[float] = 10.0
HEALTH_PROBE_BURST_LIMIT: Final[int] = 20

# --- Certificates ----------------------------------------------------------------------------

#: ACM starts renewing a DNS-validated certificate 60 days before it expires and, when renewal
#: has not succeeded, sends its first "approaching expiration" event at 45 days. An alarm at the
#: same mark gives six weeks to fix a validation record before the API's domain breaks.
CERTIFICATE_EXPIRY_ALARM_DAYS: Final[int] = 45

# --- Logs ------------------------------------------------------------------------------------

LOG_RETENTION_DAYS_DEFAULT: Final[int] = 30
#: Shortest retention worth having: an incident noticed after a long weekend still has its logs.
LOG_RETENTION_DAYS_MIN: Final[int] = 7
#: The values CloudWatch Logs accepts for retentionInDays.
LOG_RETENTION_DAYS_ALLOWED: Final[tuple[int, ...]] = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# --- Active-active ---------------------------------------------------------------------------

MIN_ACTIVE_REGIONS: Final[int] = 2
#: The contract between the components and the pack about a region on its way out: the
#: components tag every taggable resource of a retiring region with this key (value "true"). The
#: pack takes a region whose every API and stage carries it for retiring: it no longer serves,
#: so the serving rules leave it alone, and `retiring-region` checks what its removal needs.
RETIRING_TAG_KEY: Final[str] = "resilience:retiring"


def required_visibility_timeout_s(
    function_timeout_s: float,
    batching_window_s: float = 0,
    ratio: float = VISIBILITY_TIMEOUT_RATIO,
) -> int:
    """The smallest queue visibility timeout that fits a consumer: ratio x timeout + window.

    The batching window counts because a message's visibility clock starts when the poller
    receives it, not when the function starts on the batch.
    """
    required = ratio * function_timeout_s + batching_window_s
    whole = int(required)
    return whole if whole == required else whole + 1


def max_api_function_timeout_s(
    integration_timeout_ms: float = API_GATEWAY_INTEGRATION_TIMEOUT_MS,
    margin_ms: float = API_FUNCTION_TIMEOUT_MARGIN_MS,
) -> int:
    """The longest whole-second function timeout that still ends before the integration's."""
    return int((integration_timeout_ms - margin_ms) // 1000)


def estimated_failover_s(
    interval_s: int = HEALTH_CHECK_INTERVAL_DEFAULT_S,
    failure_threshold: int = HEALTH_CHECK_FAILURE_THRESHOLD_DEFAULT,
    record_ttl_s: int = ALIAS_RECORD_TTL_S,
) -> int:
    """Nominal seconds before clients stop resolving an unhealthy region: the failed checks
    plus one record TTL. Not a bound: Route53's checkers decide independently and report with a
    delay, and resolvers or clients that cache past the TTL stretch it further."""
    return interval_s * failure_threshold + record_ttl_s


#: Multi-Region strong consistency (MRSC) of DynamoDB global tables, shared by the components'
#: config checks and the pack. "A MRSC global table must be deployed in exactly three Regions":
#: three replicas, or two replicas and a witness (DynamoDB developer guide,
#: V2globaltables_HowItWorks.html).
MRSC_REGION_COUNT: Final[int] = 3
#: The groups of regions an MRSC table's three regions must all come from. Enforced: AWS's
#: announcement of 2026-09-24 (aws.amazon.com/about-aws/whats-new/2026/09/
#: dynamodb-mrsc-additional-regions/) allows "any three-Region configuration across the 15
#: supported AWS Regions", across continents. It supersedes the three sets the developer guide
#: and the API reference listed before (US: us-east-1, us-east-2, us-west-2; EU: eu-west-1,
#: eu-west-2, eu-west-3, eu-central-1; AP: ap-northeast-1..3), which "cannot span Region sets";
#: to enforce those instead, list them here as three groups.
MRSC_REGION_GROUPS: Final[dict[str, frozenset[str]]] = {
    "the 15 MRSC regions of AWS's 2026-09-24 announcement": frozenset(
        {
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "ca-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "eu-central-1",
            "eu-north-1",
            "eu-south-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-southeast-1",
        }
    ),
}


def mrsc_region_group(regions: Iterable[str]) -> str | None:
    """The name of the MRSC region group that holds all of `regions`, or None."""
    wanted = set(regions)
    return next((name for name, group in MRSC_REGION_GROUPS.items() if wanted <= group), None)
