"""The handler strings import in a fresh interpreter laid out like Lambda.

Lambda's Python path is: the function archive (the handlers folder's files at its root), then
layers (Powertools comes from the AWS public layer, which bundles the X-Ray SDK), then the
runtime (which provides boto3 and its dependencies). Nothing else: not this repository, not the
test dependencies, not site-packages. The child interpreter runs with -I -S and exactly those
directories on sys.path, and reports every module it loaded from anywhere else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lambda_layout import LAYER_PACKAGES, RUNTIME_PACKAGES, link_packages

HANDLERS_DIR = Path(__file__).resolve().parents[2] / "handlers"


CHILD = r"""
import json, sys
archive, layer, runtime = ARGS
stdlib = [entry for entry in sys.path if "site-packages" not in entry]
sys.path[:] = [archive, layer, runtime, *stdlib]

import task_api, task_worker

report = {"callable": [callable(task_api.handler), callable(task_worker.handler)]}

class Context:
    function_name = "task-app"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:task-app"
    aws_request_id = "6f1c8f05-7c8a-4e1c-9d34-0d7b5b3f2a10"
    def get_remaining_time_in_millis(self):
        return 10000

def api_event(path):
    return {
        "resource": path, "path": path, "httpMethod": "GET", "headers": {},
        "multiValueHeaders": {}, "queryStringParameters": None, "pathParameters": None,
        "requestContext": {"requestId": "req-1", "stage": "prod", "path": "/prod" + path,
                           "domainName": "example.com", "httpMethod": "GET"},
        "body": None, "isBase64Encoded": False,
    }

# No AWS calls: an unknown route, and a health check whose configuration is missing.
report["unknownRoute"] = task_api.handler(api_event("/nowhere"), Context())["statusCode"]
report["healthWithoutConfig"] = task_api.handler(api_event("/health"), Context())["statusCode"]

poison = {"Records": [{"messageId": "m-1", "receiptHandle": "r", "body": "not json",
                       "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                       "md5OfBody": "", "eventSource": "aws:sqs",
                       "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:q",
                       "awsRegion": "eu-west-1"}]}
try:
    task_worker.handler(poison, Context())
    report["poisonBatch"] = "accepted"
except Exception as error:
    report["poisonBatch"] = type(error).__name__

report["tracerDisabled"] = task_api.tracer.disabled
allowed = (archive, layer, runtime, *stdlib)
report["outside"] = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and not module.__file__.startswith(allowed)
)
print("REPORT " + json.dumps(report))
"""


@pytest.fixture(scope="module")
def lambda_layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("lambda")
    archive = root / "task"
    archive.mkdir()
    # Exactly the archive the Function component deploys, not a copy made here.
    from resilient_serverless import task_app_archive

    for name, asset in task_app_archive().assets.items():
        shutil.copy2(asset.path, archive / name)
    layer = root / "layer"
    link_packages(LAYER_PACKAGES, layer)
    runtime = root / "runtime"
    link_packages(RUNTIME_PACKAGES, runtime)
    return archive, layer, runtime


def _run_child(layout: tuple[Path, Path, Path], env: dict[str, str]) -> dict[str, Any]:
    code = CHILD.replace("ARGS", json.dumps([str(path) for path in layout]))
    base_env = {
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "task-app",
        "POWERTOOLS_METRICS_NAMESPACE": "ResilientServerless",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code],
        env={**base_env, **env},
        cwd=layout[0].parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    [line] = [line for line in completed.stdout.splitlines() if line.startswith("REPORT ")]
    report: dict[str, Any] = json.loads(line.removeprefix("REPORT "))
    return report


def test_archive_holds_only_handler_modules(lambda_layout: tuple[Path, Path, Path]) -> None:
    archive = lambda_layout[0]
    names = sorted(path.name for path in archive.iterdir())
    assert "task_api.py" in names and "task_worker.py" in names
    assert all(name.endswith(".py") for name in names)


def test_handlers_import_and_run_with_only_archive_layer_and_runtime(
    lambda_layout: tuple[Path, Path, Path],
) -> None:
    report = _run_child(lambda_layout, {"POWERTOOLS_TRACE_DISABLED": "true"})
    assert report["callable"] == [True, True]
    assert report["unknownRoute"] == 404
    assert report["healthWithoutConfig"] == 503
    assert report["poisonBatch"] == "BatchProcessingError"
    assert report["outside"] == []


def test_handlers_import_with_tracing_active_as_in_lambda(
    lambda_layout: tuple[Path, Path, Path],
) -> None:
    """The environment Lambda sets: the tracer is on and patches botocore with the X-Ray SDK.

    With no daemon listening, segments go to a UDP port nobody reads; that must not break
    anything.
    """
    archive = lambda_layout[0]
    report = _run_child(
        lambda_layout,
        {
            "AWS_LAMBDA_FUNCTION_NAME": "task-app",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "LAMBDA_TASK_ROOT": str(archive),
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        },
    )
    assert report["tracerDisabled"] is False
    assert report["callable"] == [True, True]
    assert report["unknownRoute"] == 404
    assert report["healthWithoutConfig"] == 503
    assert report["poisonBatch"] == "BatchProcessingError"
    assert report["outside"] == []


def test_no_handler_module_imports_test_or_build_tooling() -> None:
    forbidden = ("moto", "pytest", "pulumi", "resilience_policies", "resilient_serverless")
    for module in HANDLERS_DIR.glob("*.py"):
        source = module.read_text()
        for name in forbidden:
            assert f"import {name}" not in source and f"from {name}" not in source, (module, name)
    assert os.path.exists(HANDLERS_DIR / "__init__.py")
