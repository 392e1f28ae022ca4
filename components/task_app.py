"""The Lambda code of the task app (the `handlers/` folder), packed as a Pulumi archive."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pulumi

#: Handler strings resolve against the archive root, which holds the handler modules.
API_HANDLER = "task_api.handler"
WORKER_HANDLER = "task_worker.handler"
SAGA_API_HANDLER = "saga_api.handler"
STREAM_CONSUMER_HANDLER = "stream_consumer.handler"


def task_app_code_dir() -> Path:
    """The folder with the task app's handler modules, in a checkout or an installed wheel."""
    return Path(str(resources.files("resilient_serverless.task_app_code")))


def code_archive(folder: Path) -> pulumi.AssetArchive:
    """Only the modules Lambda runs: no caches, docs or tests (Powertools comes from its layer,
    boto3 from the runtime). Sorted so the archive hash is stable across machines."""
    modules = sorted(path for path in folder.glob("*.py") if path.is_file())
    if not modules:
        raise ValueError(f"code folder {folder} holds no Python modules to deploy.")
    return pulumi.AssetArchive({path.name: pulumi.FileAsset(str(path)) for path in modules})


def task_app_archive() -> pulumi.AssetArchive:
    return code_archive(task_app_code_dir())
