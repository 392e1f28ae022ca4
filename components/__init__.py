"""Resilient serverless building blocks for Pulumi on AWS (pulumi-aws v7).

Each component places its regional children explicitly with `region=` and derives its resilience
numbers (visibility timeouts, timeout chains, retention) from `resilience_policies.thresholds`,
the same module the policy pack checks against.
"""

from .active_active import ActiveActiveService, ActiveActiveServiceArgs, RegionDeployment
from .api_access import ApiClient
from .function import DEFAULT_RUNTIME, Function, FunctionArgs, FunctionTarget
from .global_table import GlobalTable, GlobalTableArgs
from .iam import PolicyStatement
from .latency_routing import LatencyRouting, LatencyRoutingArgs, RegionalEndpoint
from .powertools import powertools_layer_arn
from .queue_worker import QueueWorker, QueueWorkerArgs
from .regional_api import (
    HandledRoutes,
    RegionalApi,
    RegionalApiArgs,
    Route,
    SharedCertificateValidation,
)
from .saga import Saga, SagaArgs
from .saga_definition import BOOKING_STEPS, RetryPolicy, SagaStep, saga_definition
from .settings import ConfigError, ServiceSettings, load_settings, settings_from_mapping
from .stream_consumer import StreamConsumer, StreamConsumerArgs
from .task_app import code_archive, task_app_archive

#: The release; pyproject.toml's `version` says the same (tests/components/test_release.py).
__version__ = "0.1.0"

__all__ = [
    "BOOKING_STEPS",
    "DEFAULT_RUNTIME",
    "ActiveActiveService",
    "ActiveActiveServiceArgs",
    "ApiClient",
    "ConfigError",
    "Function",
    "FunctionArgs",
    "FunctionTarget",
    "GlobalTable",
    "GlobalTableArgs",
    "HandledRoutes",
    "LatencyRouting",
    "LatencyRoutingArgs",
    "PolicyStatement",
    "QueueWorker",
    "QueueWorkerArgs",
    "RegionDeployment",
    "RegionalApi",
    "RegionalApiArgs",
    "RegionalEndpoint",
    "RetryPolicy",
    "Route",
    "Saga",
    "SagaArgs",
    "SagaStep",
    "ServiceSettings",
    "SharedCertificateValidation",
    "StreamConsumer",
    "StreamConsumerArgs",
    "__version__",
    "code_archive",
    "load_settings",
    "powertools_layer_arn",
    "saga_definition",
    "settings_from_mapping",
    "task_app_archive",
]
