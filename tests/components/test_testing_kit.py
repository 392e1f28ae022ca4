"""`resilient_serverless.testing.Mocks`: a user's own unit tests of a program built from the
components, run exactly as the README's "Testing your program" shows them.

The two files are read out of the README (so the documented example is the tested one) and run
with pytest in a folder of their own, as a user's project would run them.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
_EXAMPLE = re.compile(
    r"<!-- testing-example: (?P<name>[\w.]+) -->\n```python\n(?P<code>.*?)```", re.S
)


def readme_example() -> dict[str, str]:
    """The README's testing example: file name -> code."""
    files = {match["name"]: match["code"] for match in _EXAMPLE.finditer(README.read_text())}
    assert set(files) == {"infra.py", "test_infra.py"}, sorted(files)
    return files


def write_example(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, code in files.items():
        (folder / name).write_text(code)


def run_pytest(python: str | Path, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_readme_example_passes_under_the_kit(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    write_example(folder, readme_example())
    result = run_pytest(sys.executable, folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b3 passed\b", result.stdout), result.stdout


def test_the_standard_mocks_fail_where_the_kit_answers(tmp_path: Path) -> None:
    """The premise: with Pulumi's standard mocks (inputs as outputs) the same program fails,
    so the example's passing run is the kit's doing."""
    files = readme_example()
    files["test_infra.py"] = files["test_infra.py"].replace(
        "from resilient_serverless.testing import Mocks\n",
        "class Mocks(pulumi.runtime.Mocks):\n"
        "    def __init__(self, **_):\n"
        "        self.resources = []\n"
        "    def new_resource(self, args):\n"
        "        return f'{args.name}-id', args.inputs\n"
        "    def call(self, args):\n"
        "        return args.args\n",
    )
    folder = tmp_path / "standard"
    write_example(folder, files)
    result = run_pytest(sys.executable, folder)
    assert result.returncode != 0, result.stdout
    assert "3 passed" not in result.stdout


@pytest.mark.parametrize("token", ["aws:ec2/getAmi:getAmi"])
def test_an_unanswered_lookup_names_itself(token: str) -> None:
    import pulumi
    from resilient_serverless.testing import Mocks

    with pytest.raises(NotImplementedError, match=re.escape(token)):
        Mocks().call(pulumi.runtime.MockCallArgs(token, {}, ""))


# -- from the wheel, in a fresh virtualenv, at the dependency floors -------------------------


def _check(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _run_module() -> ModuleType:
    """The project's run.py: it keeps the floors environment and builds the wheel."""
    sys.path.insert(0, str(REPO))
    try:
        import run
    finally:
        sys.path.remove(str(REPO))
    return run


@pytest.fixture(scope="module")
def floors_python() -> Path:
    """The floors environment `python3 run.py test` keeps (pulumi and pulumi-aws at the lowest
    versions pyproject.toml allows), made here when it is missing."""
    return Path(_run_module().ensure_floor_environment())


def test_the_wheel_at_the_dependency_floors_runs_the_readme_example(
    tmp_path: Path, floors_python: Path
) -> None:
    wheel = _run_module().build_wheel(tmp_path)
    fresh = tmp_path / "venv"
    _check([sys.executable, "-m", "venv", "--without-pip", str(fresh)], cwd=tmp_path)
    fresh_python = fresh / "bin" / "python"
    _check(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(fresh_python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        cwd=tmp_path,
    )
    fresh_site = Path(
        _check(
            [str(fresh_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            cwd=tmp_path,
        ).strip()
    )
    floors_site = _check(
        [str(floors_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        cwd=tmp_path,
    ).strip()
    # The floors' pulumi, pulumi-aws and pytest after the wheel, as a plain path entry: the
    # floors environment's own .pth files (its editable install of the checkout) stay inactive.
    (fresh_site / "zz_floors.pth").write_text(floors_site + "\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    seen = json.loads(
        _check(
            [
                str(fresh_python),
                "-c",
                "import json, importlib.metadata as m, resilient_serverless as r;"
                "print(json.dumps({'pulumi': m.version('pulumi'), 'pulumi-aws': m.version('pulumi-aws'),"
                " 'package': r.__file__}))",
            ],
            cwd=tmp_path,
            env=env,
        )
    )
    floors = _run_module().dependency_floors()
    for name, floor in floors.items():
        assert tuple(map(int, seen[name].split("."))) == tuple(
            map(int, (floor + ".0").split(".")[:3])
        ), (name, seen[name], floor)
    assert Path(seen["package"]).is_relative_to(fresh_site)

    project = tmp_path / "project"
    write_example(project, readme_example())
    result = run_pytest(fresh_python, project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b3 passed\b", result.stdout), result.stdout
