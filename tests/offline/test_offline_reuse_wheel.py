"""Reuse from another project: build this project's wheel, install it into a fresh virtualenv and
run a small consumer program under mocks that builds a `QueueWorker` from the installed
`resilient_serverless`. The folder names of the checkout (`components`, `handlers`) must not be
importable from the wheel: only the distinctive import names ship.

No package index is used: the wheel is built with the current environment's build backend
(`--no-build-isolation`), and the new virtualenv sees the current one's site-packages (pulumi,
pulumi_aws) through a path entry added after the wheel is installed.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

from offline_harness import build_wheel

CONSUMER = textwrap.dedent(
    """
    import importlib.util
    import json

    import pulumi


    class Recorder(pulumi.runtime.Mocks):
        def __init__(self):
            self.resources = []

        def new_resource(self, args):
            self.resources.append({"type": args.typ, "name": args.name, "inputs": args.inputs})
            # What a provider computes: the components build ARNs and URLs from these.
            computed = {
                "arn": f"arn:aws:mock:eu-west-1:123456789012:{args.name}",
                "name": args.name,
                "url": f"https://sqs.eu-west-1.amazonaws.com/123456789012/{args.name}",
                "invokeArn": f"arn:aws:apigateway:eu-west-1:lambda:path/{args.name}/invocations",
            }
            return f"{args.name}-id", {**computed, **args.inputs}

        def call(self, args):
            # The functions look their Powertools layer up in AWS's public SSM parameter.
            if args.token == "aws:ssm/getParameter:getParameter":
                name = args.args["name"]
                _, arch, runtime, _ = name.rsplit("/", 3)
                layer = (
                    f"arn:aws:lambda:{args.args['region']}:017000801446:layer:"
                    f"AWSLambdaPowertoolsPythonV3-{runtime.replace('.', '')}-{arch}:41"
                )
                return {"name": name, "value": layer, "insecureValue": layer}
            return {}


    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project="consumer", stack="dev", preview=False)

    import resilience_policies
    import resilient_serverless
    from resilient_serverless import Function, FunctionArgs, QueueWorker, QueueWorkerArgs


    @pulumi.runtime.test
    def build():
        handler = pulumi.StringAsset("def handler(e, c):\\n    return {}\\n")
        code = pulumi.AssetArchive({"app.py": handler})
        worker = QueueWorker(
            "reuse",
            QueueWorkerArgs(consumer=FunctionArgs(handler="app.handler", code=code, timeout_s=20)),
            region="eu-west-1",
        )
        standalone = Function(
            "standalone", FunctionArgs(handler="app.handler", code=code), region="eu-west-1"
        )
        return pulumi.Output.all(worker.queue.urn, standalone.function.urn)


    build()
    # The function code (an AssetArchive) is no JSON: its type name stands in for it.
    print(json.dumps({
        "resilient_serverless": resilient_serverless.__file__,
        "resilience_policies": resilience_policies.__file__,
        "components": importlib.util.find_spec("components") is not None,
        "handlers": importlib.util.find_spec("handlers") is not None,
        "resources": recorder.resources,
    }, default=lambda value: type(value).__name__))
    """
)


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, (
        f"{' '.join(command)} failed ({completed.returncode}):\n"
        f"{completed.stdout}\n{completed.stderr}"
    )
    return completed.stdout


def test_installed_wheel_builds_a_queue_worker_without_the_checkout(tmp_path: Path) -> None:
    wheels = [build_wheel(tmp_path)]

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    venv_python = venv / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv_python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheels[0]),
        ],
        cwd=tmp_path,
    )
    venv_site = Path(
        _run(
            [str(venv_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            cwd=tmp_path,
        ).strip()
    )
    # pulumi and pulumi_aws from this environment, after the wheel: a plain path entry, so this
    # environment's own .pth files (the editable install of the checkout) stay inactive.
    (venv_site / "zz_shared_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    consumer_dir = tmp_path / "consumer"
    consumer_dir.mkdir()
    (consumer_dir / "main.py").write_text(CONSUMER)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    result = json.loads(
        _run([str(venv_python), "main.py"], cwd=consumer_dir, env=env).splitlines()[-1]
    )

    assert Path(result["resilient_serverless"]).is_relative_to(venv_site)
    assert Path(result["resilience_policies"]).is_relative_to(venv_site)
    assert result["components"] is False, "the checkout's `components` folder leaked into the wheel"
    assert result["handlers"] is False, "the checkout's `handlers` folder leaked into the wheel"

    by_type: dict[str, list[dict]] = {}
    for resource in result["resources"]:
        by_type.setdefault(resource["type"], []).append(resource)
    queues = by_type["aws:sqs/queue:Queue"]
    work_queue = next(q for q in queues if q["name"] == "reuse-queue")
    # 6 x the consumer's 20 s timeout + no batching window, derived by the installed component.
    assert work_queue["inputs"]["visibilityTimeoutSeconds"] == 120
    assert all(q["inputs"]["region"] == "eu-west-1" for q in queues)
    mapping = by_type["aws:lambda/eventSourceMapping:EventSourceMapping"][0]
    assert mapping["inputs"]["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert len(by_type["aws:lambda/function:Function"]) == 2
    for function in by_type["aws:lambda/function:Function"]:
        assert function["inputs"]["layers"] == [
            "arn:aws:lambda:eu-west-1:017000801446:layer:"
            "AWSLambdaPowertoolsPythonV3-python314-arm64:41"
        ]
    assert "aws:sqs/redrivePolicy:RedrivePolicy" in by_type
