"""Stack configuration of the active-active service: read, type-check and validate it before any
resource exists, so a bad value fails `pulumi preview` with one message that names the key and
the fix instead of failing halfway through `pulumi up`."""

import functools
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi

from resilience_policies import thresholds

from .api_access import AUTHORIZATION_MODES, DEFAULT_AUTHORIZATION, ApiClient, uses_api_keys
from .function import DEFAULT_RUNTIME
from .global_table import CONSISTENCY_MODES, mrsc_region_problems, suggested_witness
from .inputs import schema_args
from .powertools import (
    HANDLER_MIN_PYTHON,
    HANDLER_RUNTIMES,
    POWERTOOLS_VERSION,
    SUPPORTED_ARCHITECTURES,
)

CONFIG_NAMESPACE: Final[str] = "resilient-serverless"

#: Commercial regions where Lambda, API Gateway, SQS, DynamoDB global tables, Route53 latency
#: records and the Powertools public layer are all available.
KNOWN_REGIONS: Final[frozenset[str]] = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "ap-south-1",
        "ap-south-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-east-1",
        "me-south-1",
        "me-central-1",
        "af-south-1",
        "il-central-1",
    }
)

#: The handlers' StoreFailureMode values (handlers/circuit_breaker.py).
CIRCUIT_BREAKER_STORE_FAILURE_MODES: Final[tuple[str, ...]] = ("memory", "allow", "deny")

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: A Powertools release (3.37.0) or `latest`, as the public SSM parameters name them.
_POWERTOOLS_VERSION = re.compile(r"^(latest|3\.\d+\.\d+)$")
#: The fields of one `apiClients` entry: config name -> ApiClient field.
_API_CLIENT_FIELDS: Final[dict[str, str]] = {
    "name": "name",
    "rateLimit": "rate_limit",
    "burstLimit": "burst_limit",
    "quotaPerDay": "quota_per_day",
    "sharedAcrossRegions": "shared_across_regions",
}


class ConfigError(ValueError):
    """Every problem found in the stack configuration, each naming its key and the fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem(s)):\n{lines}")


@schema_args
@dataclass(frozen=True)
class ServiceSettings:
    """Validated settings of one stack (the program reads them from its config, whose keys are
    the camelCase names below; Pulumi.yaml's `config:` section declares them)."""

    regions: Sequence[str]
    """The `regions` setting: AWS regions that serve traffic (at least 2). The table region (the
    first, unless tableRegion names another) holds the DynamoDB table resource; every other one a
    replica. Adding a region is one more list entry."""
    domain_name: str
    """The `domainName` setting: The name clients call, e.g. api.example.com; latency-routed to the
    nearest healthy region."""
    hosted_zone_name: str
    """The `hostedZoneName` setting: Public Route53 hosted zone that contains domainName, e.g.
    example.com."""
    alarm_email: str | None = None
    """The `alarmEmail` setting: E-mail address subscribed to each region's alarm topic (DLQ depth,
    queue age). Empty for none."""
    api_timeout_seconds: int = 10
    """The `apiTimeoutSeconds` setting: Timeout of the API function. Must end before API Gateway's
    integration timeout (integrationTimeoutMs minus a 1 s margin)."""
    api_memory_mb: int = 256
    """The `apiMemoryMb` setting: Memory of the API function (MB)."""
    api_reserved_concurrency: int | None = None
    """The `apiReservedConcurrency` setting: Reserved concurrency of the API function per region; 0
    for none."""
    worker_timeout_seconds: int = 30
    """The `workerTimeoutSeconds` setting: Timeout of the queue worker. The queue's visibility
    timeout is derived as 6x this plus the batching window."""
    worker_memory_mb: int = 512
    """The `workerMemoryMb` setting: Memory of the worker function (MB)."""
    worker_batch_size: int = 10
    """The `workerBatchSize` setting: Messages per worker invocation."""
    worker_batching_window_seconds: int = 1
    """The `workerBatchingWindowSeconds` setting: How long the SQS poller gathers a batch (seconds).
    """
    worker_max_concurrency: int = thresholds.SQS_MAX_CONCURRENCY_DEFAULT
    """The `workerMaxConcurrency` setting: Maximum concurrent worker invocations per region (SQS
    maximum concurrency, 2..1000) - protects the table."""
    max_receive_count: int = thresholds.MAX_RECEIVE_COUNT_DEFAULT
    """The `maxReceiveCount` setting: Receives before a message moves to the DLQ (3..10)."""
    api_throttle_burst_limit: int = thresholds.API_THROTTLE_BURST_LIMIT_DEFAULT
    """The `apiThrottleBurstLimit` setting: burst limit of EACH method (route) of a region's stage,
    not of the whole API."""
    api_throttle_rate_limit: float = thresholds.API_THROTTLE_RATE_LIMIT_DEFAULT
    """The `apiThrottleRateLimit` setting: steady-state requests per second of EACH method (route)
    of a region's stage, not of the whole API."""
    integration_timeout_ms: int = thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS
    """The `integrationTimeoutMs` setting: API Gateway Lambda integration timeout (ms), at most
    29000."""
    health_check_interval_seconds: int = thresholds.HEALTH_CHECK_INTERVAL_DEFAULT_S
    """The `healthCheckIntervalSeconds` setting: Route53 health check request interval, 10 or 30
    seconds (10 is billed as the fast-interval option)."""
    health_check_failure_threshold: int = thresholds.HEALTH_CHECK_FAILURE_THRESHOLD_DEFAULT
    """The `healthCheckFailureThreshold` setting: Consecutive failed checks before a region is
    withdrawn (1..10)."""
    log_retention_days: int = thresholds.LOG_RETENTION_DAYS_DEFAULT
    """The `logRetentionDays` setting: Retention of function and access logs (a CloudWatch Logs
    retention value)."""
    task_ttl_days: int = 7
    """The `taskTtlDays` setting: Days a task record is kept before DynamoDB TTL removes it."""
    lambda_architecture: str = "arm64"
    """The `lambdaArchitecture` setting: Lambda architecture, arm64 or x86_64."""
    lambda_runtime: str = DEFAULT_RUNTIME
    """The `lambdaRuntime` setting: Python runtime of the functions, python3.11 or newer (the
    handlers need 3.11+; the newest pulumi-aws accepts is the default). Pin python3.13 if the
    Powertools layer for the newest runtime is not yet published in one of your regions."""
    powertools_version: str = POWERTOOLS_VERSION
    """The `powertoolsVersion` setting: the Powertools for AWS Lambda (Python) release whose public
    layer the functions use, resolved per region from AWS's SSM parameter for the runtime and
    architecture; `latest` follows new releases."""
    powertools_layer_version: int | None = None
    """The `powertoolsLayerVersion` setting: a fixed layer version number instead of the SSM lookup;
    0 (None) resolves powertoolsVersion through SSM."""
    manage_api_gateway_account: bool = True
    """The `manageApiGatewayAccount` setting: Set API Gateway's account-level CloudWatch role in
    each region (needed for stage logs). False when the account's API Gateway settings are managed
    elsewhere."""
    circuit_breaker_failure_threshold: int = 5
    """The `circuitBreakerFailureThreshold` setting: Consecutive failures or timeouts of a
    dependency (table, queue) that open its circuit breaker, shared by all containers of a region
    (1..1000)."""
    circuit_breaker_open_seconds: int = 10
    """The `circuitBreakerOpenSeconds` setting: Seconds an open circuit fails fast before exactly
    one trial call may run (1..3600)."""
    circuit_breaker_store_failure: str = "memory"
    """The `circuitBreakerStoreFailure` setting: What a breaker does when its own DynamoDB table
    fails - memory (each container's own breaker), allow (let calls through) or deny (fail fast)."""
    fault_injection_allowed: bool = False
    """The `faultInjectionAllowed` setting: Let the task functions inject failures (latency, errors,
    lost replies, API status codes) as configured in each region's fault-injection SSM parameter.
    Keep false in production; the handlers refuse every fault without it."""
    stream_retention_hours: int = thresholds.KINESIS_RETENTION_HOURS_DEFAULT
    """The `streamRetentionHours` setting: Hours each region's booking-events Kinesis stream keeps
    records (24..8760). Records the consumer gives up on must be re-read (tools.stream_rehydrate)
    within this window."""
    stream_shard_count: int = 1
    """The `streamShardCount` setting: Shards of each region's booking-events Kinesis stream (1 MB/s
    or 1000 records/s of writes each)."""
    api_authorization: str = DEFAULT_AUTHORIZATION
    """The `apiAuthorization` setting: who may call every route but the health check - iam (SigV4
    signatures allowed execute-api:Invoke), apiKey (an x-api-key of a client in apiClients) or
    iam+apiKey (both: a signature AND a client's x-api-key)."""
    api_clients: Sequence[ApiClient] = ()
    """The `apiClients` setting: with apiKey or iam+apiKey, one entry per client with its own
    usage plan, and its own key value in each region unless the entry sets sharedAcrossRegions:
    true."""
    dns_record_type: str = thresholds.DNS_RECORD_TYPE_DEFAULT
    """The `dnsRecordType` setting: alias (A alias records) or cname (CNAME records with
    dnsTtlSeconds)."""
    dns_ttl_seconds: int = thresholds.DNS_CNAME_TTL_DEFAULT_S
    """The `dnsTtlSeconds` setting: TTL of the CNAME records when dnsRecordType is cname."""
    retiring_regions: Sequence[str] = ()
    """The `retiringRegions` setting: regions on their way out - still listed in `regions`, they
    no longer receive traffic, the deletion protection of their tables is off and their resources
    carry the resilience:retiring tag, so the next change can remove them."""
    table_region: str | None = None
    """The `tableRegion` setting: the region that holds the global table resource (every other
    region a replica); empty for the first of regions. Naming it lets regions be reordered without
    moving (replacing) the table."""
    table_consistency: str = "eventual"
    """The `tableConsistency` setting: `eventual` (replicas converge, typically within a second;
    concurrent writes to one item: the last writer wins) or `strong` (multi-Region strong
    consistency: a write returns once a second region has it; exactly three regions, from
    regions and tableWitnessRegion; no TTL, no retiring regions). Switching replaces the table
    with a new, empty one."""
    table_witness_region: str | None = None
    """The `tableWitnessRegion` setting: with tableConsistency strong and two regions, the third
    region of the table: a witness that holds no readable copy but takes part in every write.
    Empty for none."""

    @property
    def serving_regions(self) -> tuple[str, ...]:
        """The regions that receive traffic: every region but the retiring ones."""
        return tuple(region for region in self.regions if region not in self.retiring_regions)

    @property
    def home_region(self) -> str:
        """The region of the table resource: `table_region`, else the first of `regions`."""
        return self.table_region or self.regions[0]


@dataclass(frozen=True)
class _Key:
    name: str  # the config key, camelCase as users type it
    field: str  # the ServiceSettings field
    kind: str  # string | integer | number | boolean | array | objects
    required: bool = False


#: `ServiceSettings` fields under the names they had before each setting got one name everywhere.
DEPRECATED_FIELDS: Final[dict[str, str]] = {
    "api_timeout_s": "api_timeout_seconds",
    "worker_timeout_s": "worker_timeout_seconds",
    "worker_batching_window_s": "worker_batching_window_seconds",
    "health_check_interval_s": "health_check_interval_seconds",
    "dns_ttl_s": "dns_ttl_seconds",
}
_dataclass_init = ServiceSettings.__init__


@functools.wraps(_dataclass_init)
def _init_accepting_old_names(self: ServiceSettings, *args: Any, **kwargs: Any) -> None:
    """`ServiceSettings(worker_timeout_s=...)` still works, with a DeprecationWarning naming the
    new field; both names at once is a TypeError."""
    for old, new in DEPRECATED_FIELDS.items():
        if old not in kwargs:
            continue
        if new in kwargs:
            raise TypeError(f"ServiceSettings: {old} is the deprecated name of {new}; give one")
        warnings.warn(
            f"ServiceSettings.{old} is deprecated; name it {new}.", DeprecationWarning, stacklevel=2
        )
        kwargs[new] = kwargs.pop(old)
    _dataclass_init(self, *args, **kwargs)


ServiceSettings.__init__ = _init_accepting_old_names  # type: ignore[method-assign]


_KEYS: Final[tuple[_Key, ...]] = (
    _Key("regions", "regions", "array", required=True),
    _Key("domainName", "domain_name", "string", required=True),
    _Key("hostedZoneName", "hosted_zone_name", "string", required=True),
    _Key("alarmEmail", "alarm_email", "string"),
    _Key("apiTimeoutSeconds", "api_timeout_seconds", "integer"),
    _Key("apiMemoryMb", "api_memory_mb", "integer"),
    _Key("apiReservedConcurrency", "api_reserved_concurrency", "integer"),
    _Key("workerTimeoutSeconds", "worker_timeout_seconds", "integer"),
    _Key("workerMemoryMb", "worker_memory_mb", "integer"),
    _Key("workerBatchSize", "worker_batch_size", "integer"),
    _Key("workerBatchingWindowSeconds", "worker_batching_window_seconds", "integer"),
    _Key("workerMaxConcurrency", "worker_max_concurrency", "integer"),
    _Key("maxReceiveCount", "max_receive_count", "integer"),
    _Key("apiThrottleBurstLimit", "api_throttle_burst_limit", "integer"),
    _Key("apiThrottleRateLimit", "api_throttle_rate_limit", "number"),
    _Key("integrationTimeoutMs", "integration_timeout_ms", "integer"),
    _Key("healthCheckIntervalSeconds", "health_check_interval_seconds", "integer"),
    _Key("healthCheckFailureThreshold", "health_check_failure_threshold", "integer"),
    _Key("logRetentionDays", "log_retention_days", "integer"),
    _Key("taskTtlDays", "task_ttl_days", "integer"),
    _Key("lambdaArchitecture", "lambda_architecture", "string"),
    _Key("lambdaRuntime", "lambda_runtime", "string"),
    _Key("powertoolsVersion", "powertools_version", "string"),
    _Key("powertoolsLayerVersion", "powertools_layer_version", "integer"),
    _Key("manageApiGatewayAccount", "manage_api_gateway_account", "boolean"),
    _Key("circuitBreakerFailureThreshold", "circuit_breaker_failure_threshold", "integer"),
    _Key("circuitBreakerOpenSeconds", "circuit_breaker_open_seconds", "integer"),
    _Key("circuitBreakerStoreFailure", "circuit_breaker_store_failure", "string"),
    _Key("faultInjectionAllowed", "fault_injection_allowed", "boolean"),
    _Key("streamRetentionHours", "stream_retention_hours", "integer"),
    _Key("streamShardCount", "stream_shard_count", "integer"),
    _Key("apiAuthorization", "api_authorization", "string"),
    _Key("apiClients", "api_clients", "objects"),
    _Key("dnsRecordType", "dns_record_type", "string"),
    _Key("dnsTtlSeconds", "dns_ttl_seconds", "integer"),
    _Key("retiringRegions", "retiring_regions", "array"),
    _Key("tableRegion", "table_region", "string"),
    _Key("tableConsistency", "table_consistency", "string"),
    _Key("tableWitnessRegion", "table_witness_region", "string"),
)
#: Keys whose values are structured (lists, objects) rather than strings.
_STRUCTURED_KINDS: Final[frozenset[str]] = frozenset({"array", "objects"})
CONFIG_KEYS: Final[tuple[str, ...]] = tuple(key.name for key in _KEYS)
_KIND_OF: Final[dict[str, str]] = {key.name: key.kind for key in _KEYS}


def _qualified(key: str) -> str:
    return f"{CONFIG_NAMESPACE}:{key}"


def _api_clients(raw: Any) -> tuple[ApiClient, ...]:
    """`apiClients` entries, each an object with name, rateLimit, burstLimit, quotaPerDay and
    sharedAcrossRegions."""
    import json

    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ValueError("must be a list of objects (YAML or JSON)") from None
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ValueError(
            "must be a list of objects like {name: mobile-app, rateLimit: 20, burstLimit: 40}"
        )
    clients: list[ApiClient] = []
    for index, item in enumerate(raw):
        unknown = sorted(set(item) - set(_API_CLIENT_FIELDS))
        if unknown:
            raise ValueError(
                f"entry {index} has unknown field(s) {', '.join(unknown)}; an entry has "
                f"{', '.join(_API_CLIENT_FIELDS)}"
            )
        missing = [name for name in ("name", "rateLimit", "burstLimit") if item.get(name) is None]
        if missing:
            raise ValueError(f"entry {index} needs {', '.join(missing)}")
        shared = item.get("sharedAcrossRegions", False)
        if isinstance(shared, str) and shared.strip().lower() in ("true", "false"):
            shared = shared.strip().lower() == "true"
        if not isinstance(shared, bool):
            raise ValueError(
                f"entry {index}: sharedAcrossRegions must be true or false, got {shared!r} "
                "(true: one key value in every region; leave it out for a value per region)"
            )
        try:
            quota = item.get("quotaPerDay")
            clients.append(
                ApiClient(
                    name=str(item["name"]),
                    rate_limit=float(item["rateLimit"]),
                    burst_limit=int(item["burstLimit"]),
                    quota_per_day=None if quota is None else int(quota),
                    shared_across_regions=shared,
                )
            )
        except (TypeError, ValueError):
            raise ValueError(
                f"entry {index}: rateLimit must be a number, burstLimit and quotaPerDay whole "
                "numbers"
            ) from None
    return tuple(clients)


def _coerce(key: _Key, raw: Any) -> Any:
    """Config values arrive as strings (or parsed JSON for structured ones)."""
    if key.kind == "objects":
        return _api_clients(raw)
    if key.kind == "array":
        if isinstance(raw, str):
            import json

            try:
                raw = json.loads(raw)
            except ValueError:
                raw = [part.strip() for part in raw.split(",") if part.strip()]
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise ValueError("must be a list of strings")
        return tuple(raw)
    if key.kind == "integer":
        if isinstance(raw, bool):
            raise ValueError("must be a whole number")
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
    if key.kind == "number":
        try:
            return float(str(raw).strip())
        except ValueError:
            raise ValueError("must be a number") from None
    if key.kind == "boolean":
        text = str(raw).strip().lower()
        if text not in ("true", "false"):
            raise ValueError("must be true or false")
        return text == "true"
    return str(raw).strip()


#: Names the settings had in the package schema before every setting got one name everywhere
#: (stack config, `ServiceSettings`, the schema). Still read, with a deprecation message; both
#: names at once is an error.
DEPRECATED_KEYS: Final[dict[str, str]] = {
    "apiTimeoutS": "apiTimeoutSeconds",
    "workerTimeoutS": "workerTimeoutSeconds",
    "workerBatchingWindowS": "workerBatchingWindowSeconds",
    "healthCheckIntervalS": "healthCheckIntervalSeconds",
    "dnsTtlS": "dnsTtlSeconds",
}

#: A placeholder for the value in a suggested command, by the setting's kind.
_VALUE_HINTS: Final[dict[str, str]] = {
    "integer": "<whole number>",
    "number": "<number>",
    "boolean": "true|false",
    "string": "<value>",
}


def set_command(key: str, namespace: str = CONFIG_NAMESPACE, value: object = None) -> str:
    """The `pulumi config set` command that gives `key` a value, in `namespace` (the one the
    settings are read from: a plain `pulumi config set key` writes the current project's own
    namespace, which is another one when the components are used from another project)."""
    kind = _KIND_OF.get(key, "string")
    if kind in _STRUCTURED_KINDS:
        example = "us-east-1" if kind == "array" else "name"
        field_path = "[0]" if kind == "array" else "[0].name"
        return f"pulumi config set --path '{namespace}:{key}{field_path}' {example}"
    shown = _VALUE_HINTS.get(kind, "<value>") if value is None else str(value)
    if any(character.isspace() for character in shown) or not shown:
        shown = f"'{shown}'"
    return f"pulumi config set {namespace}:{key} {shown}"


def _nearest(name: str) -> str | None:
    import difflib

    lowered = {key.lower(): key for key in CONFIG_KEYS}
    if name.lower() in lowered:
        return lowered[name.lower()]
    found = difflib.get_close_matches(
        name, CONFIG_KEYS, n=1, cutoff=0.6
    ) or difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    if not found:
        return None
    return lowered.get(found[0], found[0])


def _plain(value: Any) -> str | None:
    """A config value short enough to repeat in a command, else None."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str) and len(str(value)) <= 60:
        return str(value)
    return None


_COMMAND_KEY = re.compile(r"`pulumi config (set|rm)( --path)? '?([A-Za-z][A-Za-z0-9]*)(?=[\s\[`'])")


def _in_namespace(problem: str, namespace: str) -> str:
    """A problem's text with every key it names qualified with `namespace`, and a command to fix
    it appended when the text has none."""
    if namespace != CONFIG_NAMESPACE:
        problem = problem.replace(f"{CONFIG_NAMESPACE}:", f"{namespace}:")

    def qualify(match: re.Match[str]) -> str:
        verb, path, key = match.groups()
        if key not in _KIND_OF:
            return match[0]
        quote = "'" if match[0].endswith("'" + key) else ""
        return f"`pulumi config {verb}{path or ''} {quote}{namespace}:{key}"

    problem = _COMMAND_KEY.sub(qualify, problem)
    if "pulumi config " not in problem:
        key = problem.removeprefix(f"{namespace}:").split(":", 1)[0].split("[", 1)[0]
        if key in _KIND_OF:
            problem = f"{problem.rstrip('.')}; fix: `{set_command(key, namespace)}`."
    return problem


def settings_from_mapping(
    raw: Mapping[str, Any],
    *,
    namespace: str = CONFIG_NAMESPACE,
    warn: Callable[[str], None] | None = None,
) -> ServiceSettings:
    """Build validated settings from raw config values keyed by their camelCase names.

    Collects every problem before failing, so one `pulumi preview` shows them all; each names
    its key in `namespace` and the `pulumi config` command that fixes it. A key under a
    deprecated name is read as its new name and reported to `warn`.
    """
    problems: list[str] = []
    raw = dict(raw)
    for old, new in DEPRECATED_KEYS.items():
        if old not in raw:
            continue
        if new in raw:
            problems.append(
                f"{namespace}:{old}: the deprecated name of {new}, and {new} is set too; remove "
                f"the old one: `pulumi config rm {namespace}:{old}`."
            )
            raw.pop(old)
            continue
        value = raw.pop(old)
        raw[new] = value
        if warn is not None:
            warn(
                f"{namespace}:{old} is deprecated; it is read as {new}. Rename it: "
                f"`pulumi config rm {namespace}:{old}` and "
                f"`{set_command(new, namespace, _plain(value))}`."
            )
    for name in sorted(set(raw) - set(CONFIG_KEYS)):
        nearest = _nearest(name)
        if nearest is not None:
            problems.append(
                f"{namespace}:{name}: not a setting; did you mean {nearest}? Fix: "
                f"`pulumi config rm {namespace}:{name}` and "
                f"`{set_command(nearest, namespace, _plain(raw[name]))}`."
            )
        else:
            problems.append(
                f"{namespace}:{name}: not a setting of this service; remove it with "
                f"`pulumi config rm {namespace}:{name}` (the settings: {', '.join(CONFIG_KEYS)})."
            )
    values: dict[str, Any] = {}
    for key in _KEYS:
        if raw.get(key.name) is None or raw.get(key.name) == "":
            if key.required:
                problems.append(
                    f"{namespace}:{key.name}: required; set it with "
                    f"`{set_command(key.name, namespace)}`."
                )
            continue
        try:
            values[key.field] = _coerce(key, raw[key.name])
        except ValueError as error:
            problems.append(
                f"{namespace}:{key.name}: {raw[key.name]!r} {error}; fix: "
                f"`{set_command(key.name, namespace)}`."
            )
    if problems:
        raise ConfigError(problems)
    if values.get("api_reserved_concurrency") == 0:
        values["api_reserved_concurrency"] = None  # 0 is how the config file says "none"
    if values.get("powertools_layer_version") == 0:
        values["powertools_layer_version"] = None  # 0: resolve the layer through SSM
    settings = ServiceSettings(**values)
    problems = [_in_namespace(problem, namespace) for problem in _semantic_problems(settings)]
    if problems:
        raise ConfigError(problems)
    return settings


def config_keys(namespace: str) -> list[str]:
    """Every key the stack's config sets in `namespace` (the engine hands a program its whole
    config; `pulumi.Config` only answers for keys one asks about, so a misspelled key would go
    unseen)."""
    from pulumi.runtime.config import CONFIG, get_config_env

    prefix = f"{namespace}:"
    everything = {**get_config_env(), **CONFIG.get()}
    return sorted(key.removeprefix(prefix) for key in everything if key.startswith(prefix))


def load_settings(
    config: pulumi.Config | None = None, *, namespace: str | None = None
) -> ServiceSettings:
    """Read the stack's settings and validate them.

    The settings live in this package's namespace (`resilient-serverless:<key>`) whatever the
    calling project is called; pass `namespace=pulumi.get_project()` (or a `pulumi.Config` of
    another namespace) to keep them in your own project's namespace instead. Every key set in the
    namespace must be a setting: a misspelled one is an error that names the nearest valid key.
    """
    namespace = namespace or (config.name if config is not None else CONFIG_NAMESPACE)
    config = pulumi.Config(namespace) if config is None or config.name != namespace else config
    raw: dict[str, Any] = {}
    for name in set(config_keys(namespace)) | set(CONFIG_KEYS):
        kind = _KIND_OF.get(DEPRECATED_KEYS.get(name, name), "string")
        try:
            value = config.get_object(name) if kind in _STRUCTURED_KINDS else config.get(name)
        except Exception:  # a value that is not the JSON a structured key needs: reported below
            value = config.get(name)
        if value is not None:
            raw[name] = value
    return settings_from_mapping(raw, namespace=namespace, warn=pulumi.log.warn)


def _semantic_problems(settings: ServiceSettings) -> list[str]:
    problems: list[str] = []

    def check(condition: bool, key: str, message: str) -> None:
        if not condition:
            problems.append(f"{_qualified(key)}: {message}")

    regions = settings.regions
    duplicates = sorted({region for region in regions if regions.count(region) > 1})
    check(
        not duplicates,
        "regions",
        f"lists {', '.join(duplicates)} more than once; list each region once.",
    )
    unknown = [region for region in regions if region not in KNOWN_REGIONS]
    check(
        not unknown,
        "regions",
        f"{', '.join(unknown)} is not a known AWS commercial region "
        f"(e.g. us-east-1, eu-west-1); fix the spelling.",
    )
    check(
        len(set(regions)) >= thresholds.MIN_ACTIVE_REGIONS,
        "regions",
        f"active-active needs at least {thresholds.MIN_ACTIVE_REGIONS} distinct regions, got "
        f"{len(set(regions))}; add one, e.g. `pulumi config set --path 'regions[1]' eu-west-1`.",
    )

    zone = settings.hosted_zone_name.rstrip(".").lower()
    domain = settings.domain_name.rstrip(".").lower()
    check(
        bool(_HOSTNAME.match(zone)),
        "hostedZoneName",
        f"{zone!r} is not a DNS name like 'example.com'.",
    )
    check(
        bool(_HOSTNAME.match(domain)) and domain.endswith("." + zone),
        "domainName",
        f"{domain!r} must be a name inside the hosted zone {zone!r}, e.g. 'api.{zone}'.",
    )
    if settings.alarm_email is not None:
        check(
            bool(_EMAIL.match(settings.alarm_email)),
            "alarmEmail",
            f"{settings.alarm_email!r} is not an e-mail address.",
        )

    def in_range(key: str, value: float, low: float, high: float, why: str = "") -> None:
        check(low <= value <= high, key, f"{value} must be between {low} and {high}{why}.")

    in_range("apiTimeoutSeconds", settings.api_timeout_seconds, 1, thresholds.MAX_LAMBDA_TIMEOUT_S)
    in_range(
        "workerTimeoutSeconds", settings.worker_timeout_seconds, 1, thresholds.MAX_LAMBDA_TIMEOUT_S
    )
    in_range("apiMemoryMb", settings.api_memory_mb, 128, 10_240)
    in_range("workerMemoryMb", settings.worker_memory_mb, 128, 10_240)
    in_range("workerBatchSize", settings.worker_batch_size, 1, 10_000)
    in_range(
        "workerBatchingWindowSeconds",
        settings.worker_batching_window_seconds,
        0,
        thresholds.MAX_BATCHING_WINDOW_S,
    )
    in_range(
        "workerMaxConcurrency",
        settings.worker_max_concurrency,
        thresholds.SQS_MAX_CONCURRENCY_MIN,
        thresholds.SQS_MAX_CONCURRENCY_MAX,
    )
    in_range(
        "maxReceiveCount",
        settings.max_receive_count,
        thresholds.MAX_RECEIVE_COUNT_MIN,
        thresholds.MAX_RECEIVE_COUNT_MAX,
        " (fewer dead-letters throttled messages, more lets poison messages burn invocations)",
    )
    check(
        settings.api_throttle_burst_limit > 0,
        "apiThrottleBurstLimit",
        f"{settings.api_throttle_burst_limit} must be positive.",
    )
    check(
        settings.api_throttle_rate_limit > 0,
        "apiThrottleRateLimit",
        f"{settings.api_throttle_rate_limit} must be positive.",
    )
    in_range(
        "integrationTimeoutMs",
        settings.integration_timeout_ms,
        50,
        thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS,
        " (higher needs an AWS quota increase and the policy pack's allowance)",
    )
    check(
        settings.health_check_interval_seconds in thresholds.HEALTH_CHECK_INTERVALS_S,
        "healthCheckIntervalSeconds",
        f"{settings.health_check_interval_seconds} must be one of {thresholds.HEALTH_CHECK_INTERVALS_S}.",
    )
    in_range(
        "healthCheckFailureThreshold",
        settings.health_check_failure_threshold,
        thresholds.HEALTH_CHECK_FAILURE_THRESHOLD_MIN,
        thresholds.HEALTH_CHECK_FAILURE_THRESHOLD_MAX,
    )
    check(
        settings.log_retention_days in thresholds.LOG_RETENTION_DAYS_ALLOWED,
        "logRetentionDays",
        f"{settings.log_retention_days} is not a CloudWatch Logs retention; use one of "
        f"{thresholds.LOG_RETENTION_DAYS_ALLOWED}.",
    )
    in_range("taskTtlDays", settings.task_ttl_days, 1, 365)
    check(
        settings.lambda_architecture in SUPPORTED_ARCHITECTURES,
        "lambdaArchitecture",
        f"{settings.lambda_architecture!r} must be one of {', '.join(SUPPORTED_ARCHITECTURES)}.",
    )
    check(
        settings.lambda_runtime in HANDLER_RUNTIMES,
        "lambdaRuntime",
        f"{settings.lambda_runtime!r} must be one of {', '.join(HANDLER_RUNTIMES)} (the Python "
        "runtimes with a Powertools v3 layer that the handlers run on: they need Python "
        f"{'.'.join(map(str, HANDLER_MIN_PYTHON))} or newer).",
    )
    check(
        bool(_POWERTOOLS_VERSION.match(settings.powertools_version)),
        "powertoolsVersion",
        f"{settings.powertools_version!r} must be a Powertools v3 release like "
        f"{POWERTOOLS_VERSION} (the one the handlers are tested with) or `latest`.",
    )
    if settings.powertools_layer_version is not None:
        check(
            settings.powertools_layer_version >= 1,
            "powertoolsLayerVersion",
            f"{settings.powertools_layer_version} must be a positive layer version, or 0 to "
            "resolve the layer for powertoolsVersion through AWS's public SSM parameter.",
        )
    if settings.api_reserved_concurrency is not None:
        check(
            settings.api_reserved_concurrency >= 1,
            "apiReservedConcurrency",
            f"{settings.api_reserved_concurrency} must be positive, or 0 for no reservation.",
        )

    in_range(
        "streamRetentionHours",
        settings.stream_retention_hours,
        thresholds.KINESIS_RETENTION_HOURS_MIN,
        thresholds.KINESIS_RETENTION_HOURS_MAX,
        " (Kinesis' own bounds; records the consumer skips are re-read within it)",
    )
    in_range("streamShardCount", settings.stream_shard_count, 1, 10_000)

    # The handlers read these as BREAKER_* variables and enforce the same bounds.
    in_range("circuitBreakerFailureThreshold", settings.circuit_breaker_failure_threshold, 1, 1000)
    in_range("circuitBreakerOpenSeconds", settings.circuit_breaker_open_seconds, 1, 3600)
    check(
        settings.circuit_breaker_store_failure in CIRCUIT_BREAKER_STORE_FAILURE_MODES,
        "circuitBreakerStoreFailure",
        f"{settings.circuit_breaker_store_failure!r} must be one of "
        f"{', '.join(CIRCUIT_BREAKER_STORE_FAILURE_MODES)} (what a breaker does when its table "
        "fails: use the container's own breaker, let calls through, or refuse them).",
    )

    check(
        settings.api_authorization in AUTHORIZATION_MODES,
        "apiAuthorization",
        f"{settings.api_authorization!r} must be one of {', '.join(AUTHORIZATION_MODES)} (SigV4 "
        "signatures, API keys with a usage plan per client, or both).",
    )
    if uses_api_keys(settings.api_authorization):
        check(
            bool(settings.api_clients),
            "apiClients",
            f"apiAuthorization {settings.api_authorization} needs at least one client, e.g. "
            "`pulumi config set --path 'apiClients[0].name' mobile-app` with its rateLimit and "
            "burstLimit.",
        )
    else:
        check(
            not settings.api_clients,
            "apiClients",
            "clients get API keys only with `apiAuthorization: apiKey` or `iam+apiKey`; remove "
            "apiClients or set apiAuthorization to iam+apiKey (or apiKey).",
        )
    for index, client in enumerate(settings.api_clients):
        problems.extend(client.problems(_qualified(f"apiClients[{index}]")))
    names = [client.name for client in settings.api_clients]
    repeated = sorted({name for name in names if names.count(name) > 1})
    check(not repeated, "apiClients", f"{', '.join(repeated)} is listed twice; name each once.")

    check(
        settings.dns_record_type in thresholds.DNS_RECORD_TYPES,
        "dnsRecordType",
        f"{settings.dns_record_type!r} must be one of {', '.join(thresholds.DNS_RECORD_TYPES)}.",
    )
    in_range(
        "dnsTtlSeconds",
        settings.dns_ttl_seconds,
        thresholds.DNS_CNAME_TTL_MIN_S,
        thresholds.DNS_CNAME_TTL_MAX_S,
        " (the CNAME records' TTL; alias records use their target's)",
    )

    not_listed = [region for region in settings.retiring_regions if region not in regions]
    check(
        not not_listed,
        "retiringRegions",
        f"{', '.join(not_listed)} is not in regions; a region retires while still listed there, "
        "and leaves both lists in the next change.",
    )
    if settings.table_region is not None:
        check(
            settings.table_region in regions,
            "tableRegion",
            f"{settings.table_region} is not in regions; name one of {', '.join(regions)}, e.g. "
            f"`pulumi config set tableRegion {regions[0] if regions else 'us-east-1'}`.",
        )
    if regions and settings.home_region in settings.retiring_regions:
        check(
            False,
            "retiringRegions",
            f"{settings.home_region} holds the table itself (tableRegion, else the first entry "
            "of regions), not a replica, and cannot retire. Moving the table to another region "
            "replaces it (a new, empty table): export the data first, or keep this region.",
        )
    problems.extend(_consistency_problems(settings))
    check(
        len(set(settings.serving_regions)) >= thresholds.MIN_ACTIVE_REGIONS,
        "retiringRegions",
        f"leaves {len(set(settings.serving_regions))} serving region(s); active-active needs "
        f"{thresholds.MIN_ACTIVE_REGIONS}: add the new region to regions before retiring one.",
    )

    # The timeout chain: API Gateway gives up at the integration timeout, so the function
    # must give up (visibly) before it.
    latest_api_timeout = thresholds.max_api_function_timeout_s(settings.integration_timeout_ms)
    if settings.api_timeout_seconds >= 1:
        check(
            settings.api_timeout_seconds <= latest_api_timeout,
            "apiTimeoutSeconds",
            f"{settings.api_timeout_seconds} s outlives API Gateway's {settings.integration_timeout_ms} ms "
            f"integration timeout; set it to {latest_api_timeout} or less so the function "
            "times out first.",
        )
    check(
        not (settings.worker_batch_size > 10 and settings.worker_batching_window_seconds < 1),
        "workerBatchingWindowSeconds",
        "Lambda needs a batching window of at least 1 s for SQS batches above 10.",
    )
    return problems


def _consistency_problems(settings: ServiceSettings) -> list[str]:
    """tableConsistency and tableWitnessRegion against AWS's limits for strongly consistent
    (MRSC) tables, which DynamoDB would otherwise report halfway through `pulumi up`."""
    mode, witness = settings.table_consistency, settings.table_witness_region
    if mode not in CONSISTENCY_MODES:
        return [
            f"{_qualified('tableConsistency')}: {mode!r} must be one of "
            f"{', '.join(CONSISTENCY_MODES)}, e.g. `pulumi config set tableConsistency eventual`."
        ]
    if mode == "eventual":
        if witness is None:
            return []
        return [
            f"{_qualified('tableWitnessRegion')}: {witness} is a witness of a strongly "
            "consistent table only; remove it (`pulumi config rm tableWitnessRegion`) or set "
            "`pulumi config set tableConsistency strong`."
        ]
    problems: list[str] = []
    regions = settings.regions
    if witness is not None and witness not in KNOWN_REGIONS:
        problems.append(
            f"{_qualified('tableWitnessRegion')}: {witness} is not a known AWS commercial region; "
            "fix the spelling."
        )
    for key, problem in mrsc_region_problems(regions, witness).items():
        if key == "witness" and witness is None:
            fix = f"`pulumi config set tableWitnessRegion {suggested_witness(regions)}`"
        elif key == "witness":
            fix = (
                "name a region that is not in regions, e.g. "
                f"`pulumi config set tableWitnessRegion {suggested_witness(regions)}`"
            )
        else:
            fix = (
                "list exactly three regions of one group (regions plus tableWitnessRegion), or "
                "keep `pulumi config set tableConsistency eventual`"
            )
        name = "tableWitnessRegion" if key == "witness" else "regions"
        problems.append(f"{_qualified(name)}: {problem}; {fix}.")
    if settings.retiring_regions:
        problems.append(
            f"{_qualified('retiringRegions')}: {', '.join(settings.retiring_regions)} cannot "
            "retire: a strongly consistent table can neither add nor remove one replica or its "
            "witness, so its regions stay as they are while tableConsistency is strong. Remove "
            "retiringRegions (`pulumi config rm retiringRegions`); to move the service, switch "
            "tableConsistency, which replaces the table (README, Strong consistency)."
        )
    # Of what MRSC does not support (TTL, local secondary indexes, transactions), the tasks table
    # would use only TTL: strong mode deploys it without one, and the handlers' expiry check on
    # read hides expired tasks. The handlers make no transactions, and the table has no LSI.
    return problems


def validate_settings(settings: ServiceSettings, where: str) -> None:
    """Raise ConfigError if settings that did not come from `load_settings` (a component's args,
    from Python or another language) break a rule; each problem names `<where>.<field>`."""
    fields = {key.name: key.field for key in _KEYS}
    problems = []
    for problem in _semantic_problems(settings):
        key, _, message = problem.removeprefix(f"{CONFIG_NAMESPACE}:").partition(": ")
        problems.append(f"{where}.{fields.get(key, key)}: {message}")
    if problems:
        raise ConfigError(problems)
