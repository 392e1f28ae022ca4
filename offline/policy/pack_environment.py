"""Which Python runs a policy pack: the pack's own environment, as the Pulumi CLI gives it one.

The CLI runs a Python policy pack with the virtualenv its `PulumiPolicy.yaml` names
(`runtime.options.virtualenv`, relative to the pack), made from the pack's `requirements.txt`
(the CLI installs it before the first run). The pack's dependencies never enter the program's
environment: pulumi-policy pins protobuf (`~=5.29`), which would downgrade a program's newer one.

The offline preview chooses the same way, in this order:

1. the virtualenv `PulumiPolicy.yaml` names, when it exists (what the CLI runs);
2. this interpreter, when it already has the policy SDK (a checkout of this project, whose
   test environment installs it);
3. an environment of its own for the pack, made once per `requirements.txt` under the user's
   cache folder (`$RESILIENT_SERVERLESS_CACHE`, else `$XDG_CACHE_HOME` or `~/.cache`, then
   `resilient-serverless/policy-env-<hash>`): a virtualenv with the pack's requirements, that
   also sees this environment's packages after its own (the pack imports its rules,
   `resilience_policies`, from here). Nothing is installed into this environment.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import venv
from pathlib import Path

import yaml

from ..errors import PolicyRunError

CACHE_VARIABLE = "RESILIENT_SERVERLESS_CACHE"


def _venv_python(directory: Path) -> Path:
    return directory / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def declared_virtualenv(pack_dir: Path) -> Path | None:
    """The virtualenv `PulumiPolicy.yaml` names for the pack, resolved against the pack folder."""
    manifest = pack_dir / "PulumiPolicy.yaml"
    try:
        document = yaml.safe_load(manifest.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    runtime = document.get("runtime") if isinstance(document, dict) else None
    options = runtime.get("options") if isinstance(runtime, dict) else None
    name = options.get("virtualenv") if isinstance(options, dict) else None
    return (pack_dir / name).resolve() if isinstance(name, str) and name else None


def cache_root() -> Path:
    explicit = os.environ.get(CACHE_VARIABLE)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "resilient-serverless"


def _own_environment(pack_dir: Path, requirements: Path) -> Path:
    digest = hashlib.sha256(
        requirements.read_bytes() + f"{sys.version_info[:2]}".encode()
    ).hexdigest()[:16]
    home = cache_root() / f"policy-env-{digest}"
    python = _venv_python(home)
    ready = home / ".ready"
    if ready.is_file() and python.is_file():
        return python
    print(
        f"preparing the policy pack's own environment (once, as `pulumi preview` does): {home}",
        file=sys.stderr,
    )
    venv.EnvBuilder(with_pip=True, clear=True).create(home)
    done = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", "install", "-r",
         str(requirements)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise PolicyRunError(
            f"installing {requirements} into the policy pack's environment {home} failed:\n"
            f"{done.stderr.strip()[-2000:]}\nfix the requirements, or make the pack's virtualenv "
            "yourself (python -m venv <pack>/venv && <pack>/venv/bin/pip install -r "
            "<pack>/requirements.txt)"
        )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    # This environment's packages after the pack's own: its rules (`resilience_policies`) come
    # from here, its policy SDK and protobuf from the pack's requirements.
    here = [path for path in sys.path if path.endswith(("site-packages", "dist-packages"))]
    Path(site, "zz-program-environment.pth").write_text("\n".join(here) + "\n")
    ready.write_text(str(requirements) + "\n")
    return python


def pack_python(pack_dir: Path) -> str:
    """The interpreter that runs the pack in `pack_dir` (see the module's docstring)."""
    declared = declared_virtualenv(pack_dir)
    if declared is not None and _venv_python(declared).is_file():
        return str(_venv_python(declared))
    if importlib.util.find_spec("pulumi_policy") is not None:
        return sys.executable
    requirements = pack_dir / "requirements.txt"
    if not requirements.is_file():
        raise PolicyRunError(
            f"{pack_dir}: the policy SDK (pulumi-policy) is not installed here and the pack has "
            "no requirements.txt to install it from; add one, or make the pack's virtualenv"
        )
    return str(_own_environment(pack_dir, requirements))
