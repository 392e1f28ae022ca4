"""Cold-start cost of the task handlers against a bare boto3 handler, in a Lambda-like layout.

Each measurement is a fresh interpreter started the way the packaging test starts one: `-I -S`
with only the function archive (exactly what the Function component deploys), a Powertools
"layer" and a boto3 "runtime" on sys.path, the environment Lambda sets (tracing active, no X-Ray
daemon listening). It times, inside the child:

- the import of the handler module (the INIT phase's work);
- the first invocation and the second one, on requests that need no AWS (an unknown route, a
  health check without configuration, a poison SQS record), so the difference is the code's
  own first-call cost (lazy imports, resolver and processor set-up), not the network.

The baseline is a handler that imports boto3 and creates a DynamoDB client, as the smallest
useful boto3 function does. Prints medians side by side and the ratio; asserts nothing.

    .venv/bin/python benchmarks/handler_import_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "components"))

sys.path.insert(0, str(REPO / "tests" / "handlers"))

from lambda_layout import LAYER_PACKAGES, RUNTIME_PACKAGES, link_packages  # noqa: E402

BARE_HANDLER = """
import boto3
dynamodb = boto3.client("dynamodb")

def handler(event, context):
    return {"statusCode": 404, "body": "{}"}
"""

CHILD = r"""
import json, sys, time
archive, layer, runtime, module = ARGS
sys.path[:] = [archive, layer, runtime, *[p for p in sys.path if "site-packages" not in p]]

class Context:
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    aws_request_id = "6f1c8f05-7c8a-4e1c-9d34-0d7b5b3f2a10"
    def get_remaining_time_in_millis(self):
        return 10000

def api_event(path):
    return {"resource": path, "path": path, "httpMethod": "GET", "headers": {},
            "multiValueHeaders": {}, "queryStringParameters": None, "pathParameters": None,
            "requestContext": {"requestId": "r", "stage": "v1", "path": "/v1" + path,
                               "domainName": "example.com", "httpMethod": "GET"},
            "body": None, "isBase64Encoded": False}

started = time.perf_counter()
handler_module = __import__(module)
imported = time.perf_counter() - started

def invoke():
    t = time.perf_counter()
    if module == "task_worker":
        event = {"Records": [{"messageId": "m", "receiptHandle": "r", "body": "x",
                 "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                 "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:1:q",
                 "awsRegion": "eu-west-1"}]}
        try:
            handler_module.handler(event, Context())
        except Exception:
            pass
    else:
        handler_module.handler(api_event("/nowhere"), Context())
    return time.perf_counter() - t

first = invoke()
second = invoke()
print("RESULT " + json.dumps({"import": imported, "first": first, "second": second}))
"""


def layout(root: Path) -> tuple[Path, Path, Path]:
    from resilient_serverless import task_app_archive

    archive = root / "task"
    archive.mkdir()
    for name, asset in task_app_archive().assets.items():
        shutil.copy2(asset.path, archive / name)
    (archive / "bare_handler.py").write_text(BARE_HANDLER)
    layer, runtime = root / "layer", root / "runtime"
    link_packages(LAYER_PACKAGES, layer)
    link_packages(RUNTIME_PACKAGES, runtime)
    return archive, layer, runtime


def measure(paths: tuple[Path, Path, Path], module: str) -> dict[str, float]:
    code = CHILD.replace("ARGS", json.dumps([*(str(p) for p in paths), module]))
    env = {
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(paths[0]),
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    result: dict[str, float] = json.loads(line.removeprefix("RESULT "))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as folder:
        paths = layout(Path(folder))
        modules = ("bare_handler", "task_api", "task_worker")
        runs: dict[str, list[dict[str, float]]] = {module: [] for module in modules}
        for _ in range(repeat):
            for module in modules:  # interleaved, so drift affects all alike
                runs[module].append(measure(paths, module))
    medians = {
        module: {key: statistics.median(run[key] for run in results) * 1000 for key in results[0]}
        for module, results in runs.items()
    }
    base = medians["bare_handler"]["import"]
    print(f"median of {repeat} fresh interpreters (ms)")
    print(f"{'handler':<14}{'import':>10}{'ratio':>8}{'1st call':>10}{'2nd call':>10}{'extra':>9}")
    for module, figures in medians.items():
        print(
            f"{module:<14}{figures['import']:>10.1f}{figures['import'] / base:>7.2f}x"
            f"{figures['first']:>10.2f}{figures['second']:>10.2f}"
            f"{figures['first'] - figures['second']:>9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
