"""The bookings API and the booking-events consumer import and run from the deployed archive
alone, laid out like Lambda (archive, the Powertools layer, the runtime), as the task app's
handlers do (test_lambda_packaging.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from lambda_layout import LAYER_PACKAGES, RUNTIME_PACKAGES, link_packages
from resilient_serverless.task_app import SAGA_API_HANDLER, STREAM_CONSUMER_HANDLER

CHILD = r"""
import base64, json, sys
archive, layer, runtime = ARGS
stdlib = [entry for entry in sys.path if "site-packages" not in entry]
sys.path[:] = [archive, layer, runtime, *stdlib]

import saga_api, stream_consumer

class Context:
    function_name = "bookings"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bookings"
    aws_request_id = "6f1c8f05-7c8a-4e1c-9d34-0d7b5b3f2a10"
    def get_remaining_time_in_millis(self):
        return 10000

def api_event(method, path, body=None):
    return {
        "resource": path, "path": path, "httpMethod": method, "headers": {},
        "multiValueHeaders": {}, "queryStringParameters": None, "pathParameters": None,
        "requestContext": {"requestId": "req-1", "stage": "v1", "path": "/v1" + path,
                           "domainName": "example.com", "httpMethod": method,
                           "identity": {"userArn": "arn:aws:iam::123456789012:user/c",
                                        "apiKeyId": None}},
        "body": body, "isBase64Encoded": False,
    }

report = {"callable": [callable(saga_api.handler), callable(stream_consumer.handler)]}
# No AWS calls: an unknown route, an invalid booking, a poison record.
report["unknownRoute"] = saga_api.handler(api_event("GET", "/nowhere"), Context())["statusCode"]
report["invalidBooking"] = saga_api.handler(api_event("POST", "/bookings", "{"), Context())[
    "statusCode"
]
poison = {"Records": [{"kinesis": {"partitionKey": "p", "sequenceNumber": "1",
                                   "data": base64.b64encode(b"not json").decode(),
                                   "kinesisSchemaVersion": "1.0",
                                   "approximateArrivalTimestamp": 1.0},
                       "eventSource": "aws:kinesis", "eventID": "shardId-000000000000:1",
                       "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/s",
                       "awsRegion": "eu-west-1"}]}
try:
    stream_consumer.handler(poison, Context())
    report["poisonBatch"] = "accepted"
except Exception as error:
    report["poisonBatch"] = type(error).__name__
allowed = (archive, layer, runtime, *stdlib)
report["outside"] = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and not module.__file__.startswith(allowed)
)
print("REPORT " + json.dumps(report))
"""


def test_handler_strings_name_archive_modules() -> None:
    from resilient_serverless import task_app_archive

    names = set(task_app_archive().assets)
    for handler in (SAGA_API_HANDLER, STREAM_CONSUMER_HANDLER):
        module, function = handler.split(".")
        assert f"{module}.py" in names and function == "handler"


def test_bookings_and_events_handlers_run_from_the_archive_alone(tmp_path: Path) -> None:
    from resilient_serverless import task_app_archive

    archive = tmp_path / "task"
    archive.mkdir()
    for name, asset in task_app_archive().assets.items():
        shutil.copy2(asset.path, archive / name)
    layer, runtime = tmp_path / "layer", tmp_path / "runtime"
    link_packages(LAYER_PACKAGES, layer)
    link_packages(RUNTIME_PACKAGES, runtime)
    code = CHILD.replace("ARGS", json.dumps([str(archive), str(layer), str(runtime)]))
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code],
        env={
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_SERVICE_NAME": "bookings",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    [line] = [line for line in completed.stdout.splitlines() if line.startswith("REPORT ")]
    report: dict[str, Any] = json.loads(line.removeprefix("REPORT "))
    assert report["callable"] == [True, True]
    assert report["unknownRoute"] == 404
    assert report["invalidBooking"] == 400
    # Every record failed: Powertools raises so that Lambda retries (and bisects) the batch.
    assert report["poisonBatch"] == "BatchProcessingError"
    assert report["outside"] == []
