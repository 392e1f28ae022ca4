"""Read a Pulumi project and one of its stacks the way the CLI does before it starts a program.

- `Pulumi.yaml`: the project name, the runtime (Python only here), `main`, `stackConfigDir` and the
  `config:` declarations (`type`, `default`/`value`, `description`, `secret`, `items`). Bare keys
  belong to the project's namespace; namespaced keys (`aws:region`) may only carry a value.
- `Pulumi.<stack>.yaml`: `config:` values, keys namespaced (`resilient-serverless:regions`,
  `aws:region`), structured values (lists, maps) allowed, `secure:` entries are ciphertext.

The result is what the language host hands a program: every key as a string, structured values
as JSON (so `Config.require_object` works), plus the list of secret keys. Values are checked
against the declared types first; a mismatch names the key, the file and the fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from ..errors import ProjectError

#: What a program sees instead of a `secure:` value: the ciphertext cannot be decrypted offline.
SECRET_PLACEHOLDER: Final[str] = "offline-preview-secret"

#: The config types Pulumi.yaml may declare (the project schema's simpleConfigType, plus object).
_DECLARABLE_TYPES: Final[frozenset[str]] = frozenset(
    {"string", "integer", "boolean", "array", "object"}
)
_DECLARATION_KEYS: Final[frozenset[str]] = frozenset(
    {"type", "default", "value", "description", "secret", "items"}
)


@dataclass(frozen=True)
class ConfigDeclaration:
    """One `config:` entry of Pulumi.yaml, keyed by its full (namespaced) name."""

    key: str
    type: dict[str, Any] | None
    default: Any
    has_default: bool
    description: str = ""
    secret: bool = False


@dataclass(frozen=True)
class StackConfig:
    """A project, its program and one stack's resolved configuration."""

    project_dir: Path
    project_name: str
    stack: str
    stack_file: Path
    program_file: Path
    #: Full key -> the string the language host passes (JSON for lists and maps).
    config: dict[str, str]
    secret_keys: list[str]
    #: Full key -> the plain value (placeholder for secrets), for this tool's own use.
    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: The Python environment the language host would run the program with (None: the
    #: interpreter on PATH, which is this one here).
    python_environment: PythonEnvironment | None = None

    @property
    def program_dir(self) -> Path:
        return self.program_file.parent

    @property
    def default_region(self) -> str | None:
        """The AWS provider's default region: `aws:region`, else the SDK's environment variables."""
        configured = self.values.get("aws:region")
        if isinstance(configured, str) and configured:
            return configured
        return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


#: The toolchains `runtime.options.toolchain` may name (pulumi/pulumi
#: sdk/python/cmd/pulumi-language-python/main.go, `parseOptions`).
TOOLCHAINS: Final[tuple[str, ...]] = ("pip", "poetry", "uv")


@dataclass(frozen=True)
class PythonEnvironment:
    """The virtualenv the Python language host runs the program with, resolved as pulumi/pulumi
    sdk/python/toolchain/toolchain.go `ResolveToolchain` does:

    - toolchain unset: `uv` when a `uv.lock` is found from the program folder upwards, else
      `poetry` when a `poetry.lock` is, else `pip`;
    - `pip` (pip.go `newPip`, `resolveVirtualEnvironmentPath`): `runtime.options.virtualenv`,
      relative to the project folder (the one with Pulumi.yaml); none set, the `python3` on PATH;
    - `uv` (uv.go `newUv`): the same option; unset, `$UV_PROJECT_ENVIRONMENT` or `.venv` next to
      the nearest `uv.lock`, else `pyproject.toml`, else in the program folder;
    - `poetry` (poetry.go `VirtualEnvPath`): what `poetry env info --path` answers in the program
      folder.

    A virtualenv is one with `bin/python` (`Scripts/python.exe` on Windows; pip.go
    `IsVirtualEnv`)."""

    toolchain: str
    #: The virtualenv folder, absolute.
    path: Path
    #: Where it was named: `runtime.options.virtualenv` or how the toolchain found it.
    source: str
    #: The value Pulumi.yaml gives `virtualenv`, as written ("" when the toolchain chose it).
    option: str = ""
    #: Why it cannot be used (it does not exist, the toolchain cannot be asked), or "".
    problem: str = ""

    @property
    def python(self) -> Path:
        if os.name == "nt":
            return self.path / "Scripts" / "python.exe"
        return self.path / "bin" / "python"

    @property
    def usable(self) -> bool:
        return not self.problem

    def is_current(self) -> bool:
        """True when this process already runs in it (nothing to start)."""
        import sys

        try:
            return Path(sys.prefix).resolve() == self.path.resolve()
        except OSError:
            return False

    def setup_command(self) -> str:
        """How to create it with the program's requirements, per toolchain."""
        if self.toolchain == "uv":
            return "uv sync"
        if self.toolchain == "poetry":
            return "poetry install"
        shown = self.option or str(self.path)
        pip = f"{shown}\\Scripts\\pip" if os.name == "nt" else f"{shown}/bin/pip"
        return f"python -m venv {shown} && {pip} install -r requirements.txt"

    def describe(self) -> str:
        """`<source> <value> (<path>)`, as messages name it."""
        if self.option:
            return f"Pulumi.yaml's runtime.options.virtualenv '{self.option}' ({self.path})"
        return f"the {self.toolchain} virtualenv {self.path} ({self.source})"


def _searchup(start: Path, name: str) -> Path | None:
    """The nearest folder from `start` upwards that holds `name` (toolchain.go `searchup`)."""
    for folder in (start, *start.parents):
        if (folder / name).exists():
            return folder
    return None


def _is_virtualenv(path: Path) -> bool:
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    return python.is_file()


def _runtime_options(runtime: Any, project_file: Path) -> tuple[str, str]:
    """(toolchain option, virtualenv option) of `runtime.options`, checked as `parseOptions` in
    sdk/python/cmd/pulumi-language-python/main.go checks them."""
    if not isinstance(runtime, dict):
        return "", ""
    options = runtime.get("options") or {}
    if not isinstance(options, dict):
        raise ProjectError(f"{project_file.name}: 'runtime.options' must be a mapping")
    virtualenv = options.get("virtualenv", "")
    if not isinstance(virtualenv, str):
        raise ProjectError(
            f"{project_file.name}: runtime.options.virtualenv must be a string (a folder, "
            "relative to the project)"
        )
    toolchain = options.get("toolchain", "")
    if not isinstance(toolchain, str) or (toolchain and toolchain not in TOOLCHAINS):
        raise ProjectError(
            f"{project_file.name}: unsupported runtime.options.toolchain {toolchain!r}; "
            f"use one of {', '.join(TOOLCHAINS)}"
        )
    return toolchain, virtualenv


def _poetry_virtualenv(program_dir: Path) -> tuple[Path | None, str]:
    """`poetry env info --path` in the program folder, as poetry.go `VirtualEnvPath` asks it."""
    import shutil
    import subprocess

    poetry = shutil.which("poetry")
    if poetry is None:
        return None, (
            "the `poetry` executable is not on PATH (install poetry, or set "
            "runtime.options.toolchain to pip)"
        )
    try:
        answered = subprocess.run(
            [poetry, "env", "info", "--path"],
            cwd=program_dir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"`poetry env info --path` failed: {error}"
    path = answered.stdout.strip()
    if answered.returncode != 0 or not path:
        return None, "`poetry env info --path` names no virtualenv (run `poetry install`)"
    return Path(path), ""


def resolve_python_environment(
    project_dir: Path, program_dir: Path, toolchain: str, virtualenv: str
) -> PythonEnvironment | None:
    """The program's virtualenv (see `PythonEnvironment`), None for the interpreter on PATH."""
    if not toolchain:
        if _searchup(program_dir, "uv.lock") is not None:
            toolchain = "uv"
        elif _searchup(program_dir, "poetry.lock") is not None:
            toolchain = "poetry"
        else:
            toolchain = "pip"
    if toolchain == "poetry":
        found, problem = _poetry_virtualenv(program_dir)
        path = found or program_dir / ".venv"
        source = "`poetry env info --path`"
    elif virtualenv:
        path = Path(virtualenv)
        path = path if path.is_absolute() else project_dir / path
        source = "runtime.options.virtualenv"
        problem = ""
    elif toolchain == "uv":
        anchor = (
            _searchup(program_dir, "uv.lock")
            or _searchup(program_dir, "pyproject.toml")
            or program_dir
        )
        chosen = os.environ.get("UV_PROJECT_ENVIRONMENT") or ".venv"
        path = Path(chosen) if Path(chosen).is_absolute() else anchor / chosen
        source = "uv's project environment"
        problem = ""
    else:
        return None
    if not problem and not _is_virtualenv(path):
        state = (
            "doesn't exist" if not path.exists() else "doesn't appear to be a virtual environment"
        )
        problem = f"{path} {state}"
    return PythonEnvironment(
        toolchain=toolchain,
        path=path.absolute(),
        source=source,
        option=virtualenv if toolchain != "poetry" else "",
        problem=problem,
    )


def _read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProjectError(f"{path.name} is not valid YAML{where}: {problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ProjectError(
            f"{path.name} must be a YAML mapping at the top level, got {type(loaded).__name__}"
        )
    return loaded


def find_project_file(project_dir: Path) -> Path:
    for candidate in ("Pulumi.yaml", "Pulumi.yml"):
        path = project_dir / candidate
        if path.is_file():
            return path
    raise ProjectError(
        f"no Pulumi.yaml in {project_dir}: point --cwd at the folder that holds the Pulumi project"
    )


def _runtime_name(runtime: Any, project_file: Path) -> str:
    if isinstance(runtime, str):
        return runtime
    if isinstance(runtime, dict) and isinstance(runtime.get("name"), str):
        return str(runtime["name"])
    raise ProjectError(
        f"{project_file.name}: 'runtime' must be a name or a mapping with 'name' "
        "(e.g. runtime: python)"
    )


def _program_file(project_dir: Path, main: Any, project_file: Path) -> Path:
    """The file the Python language host would execute: `main` (file or folder) or __main__.py."""
    if main is None or main == "":
        base = project_dir
    elif isinstance(main, str):
        base = (project_dir / main).resolve()
    else:
        raise ProjectError(f"{project_file.name}: 'main' must be a path, got {main!r}")
    if base.is_file():
        return base
    candidate = base / "__main__.py"
    if candidate.is_file():
        return candidate
    raise ProjectError(
        f"the program folder {base} has no __main__.py: a Python Pulumi program starts there"
        + (" (set 'main' in Pulumi.yaml if it lives elsewhere)" if main in (None, "") else "")
    )


def _full_key(key: str, project_name: str, source: str) -> str:
    """Namespace a config key. Pulumi.yaml may use bare keys (the project's namespace)."""
    parts = key.split(":")
    if len(parts) == 1:
        if source == "stack":
            raise ProjectError(
                f"config key '{key}' in the stack file has no namespace: write it as "
                f"'{project_name}:{key}' (or '<provider>:{key}' for a provider setting)"
            )
        return f"{project_name}:{key}"
    if len(parts) == 2 and all(parts):
        return key
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        # The old `<namespace>:config:<name>` spelling the CLI still accepts.
        return f"{parts[0]}:{parts[2]}"
    raise ProjectError(
        f"config key '{key}' is not of the form '<namespace>:<name>' "
        f"(e.g. '{project_name}:regions')"
    )


def _describe_type(declared: Mapping[str, Any]) -> str:
    kind = str(declared.get("type"))
    if kind == "array":
        items = declared.get("items")
        inner = _describe_type(items) if isinstance(items, Mapping) else "any"
        return f"array<{inner}>"
    return kind


def _validate_type_declaration(declared: Any, key: str) -> dict[str, Any]:
    if not isinstance(declared, Mapping) or "type" not in declared:
        raise ProjectError(f"Pulumi.yaml config '{key}': a type declaration needs 'type'")
    kind = declared["type"]
    if kind not in _DECLARABLE_TYPES:
        raise ProjectError(
            f"Pulumi.yaml config '{key}': type {kind!r} is not one of "
            f"{', '.join(sorted(_DECLARABLE_TYPES))}"
        )
    result: dict[str, Any] = {"type": kind}
    if kind == "array":
        if "items" not in declared:
            raise ProjectError(
                f"Pulumi.yaml config '{key}': type 'array' needs 'items' "
                "(e.g. items: {type: string})"
            )
        result["items"] = _validate_type_declaration(declared["items"], key)
    return result


def _infer_type(value: Any) -> dict[str, Any] | None:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, str):
        return {"type": "string"}
    return None


def parse_declarations(raw: Any, project_name: str) -> dict[str, ConfigDeclaration]:
    """Pulumi.yaml's `config:` section, keyed by full key."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProjectError("Pulumi.yaml 'config' must be a mapping of keys to declarations")
    declarations: dict[str, ConfigDeclaration] = {}
    for key, entry in raw.items():
        if not isinstance(key, str):
            raise ProjectError(f"Pulumi.yaml config key {key!r} must be a string")
        full = _full_key(key, project_name, "project")
        in_project = full.split(":")[0] == project_name
        if not isinstance(entry, dict):
            # Shorthand: `key: value` is a default (a project-level value for namespaced keys).
            declarations[full] = ConfigDeclaration(
                key=full,
                type=_infer_type(entry) if in_project else None,
                default=entry,
                has_default=True,
            )
            continue
        unknown = sorted(set(entry) - _DECLARATION_KEYS)
        if unknown:
            raise ProjectError(
                f"Pulumi.yaml config '{key}': unknown field(s) {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(_DECLARATION_KEYS))}"
            )
        declared_type = None
        if "type" in entry:
            if not in_project:
                raise ProjectError(
                    f"Pulumi.yaml config '{key}' is not in the project's namespace and cannot "
                    f"declare a type; give it a 'value' instead"
                )
            declared_type = _validate_type_declaration(entry, key)
        has_default = "default" in entry or "value" in entry
        default = entry.get("value", entry.get("default"))
        declaration = ConfigDeclaration(
            key=full,
            type=declared_type,
            default=default,
            has_default=has_default,
            description=str(entry.get("description") or ""),
            secret=bool(entry.get("secret", False)),
        )
        if declared_type is not None and has_default:
            _check_type(default, declared_type, full, "Pulumi.yaml (its default)")
        declarations[full] = declaration
    return declarations


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _contains_secure(value: Any) -> bool:
    if _is_secure(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secure(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_secure(item) for item in value)
    return False


def _replace_secure(value: Any, placeholder: Any) -> Any:
    if _is_secure(value):
        return placeholder
    if isinstance(value, dict):
        return {key: _replace_secure(item, placeholder) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_secure(item, placeholder) for item in value]
    return value


def _type_error(value: Any, declared: Mapping[str, Any], key: str, where: str) -> ProjectError:
    shown = json.dumps(value) if not isinstance(value, str) else repr(value)
    return ProjectError(
        f"configuration key '{key}' must be of type '{_describe_type(declared)}', got {shown} "
        f"in {where}; fix the value (or the type declared in Pulumi.yaml)"
    )


def _check_type(
    value: Any, declared: Mapping[str, Any], key: str, where: str, *, nested: bool = False
) -> None:
    """Top-level scalars are text in a stack file (`5` and "5" are both an integer, as for the
    CLI); items of a list or map keep their JSON type and must match it exactly."""
    kind = declared["type"]
    if kind == "array":
        if not isinstance(value, list):
            raise _type_error(value, declared, key, where)
        for index, item in enumerate(value):
            _check_type(item, declared["items"], f"{key}[{index}]", where, nested=True)
        return
    if kind == "object":
        ok = isinstance(value, dict)
    elif nested:
        ok = {
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
        }[kind]
    elif kind == "string":
        ok = not isinstance(value, (list, dict)) and value is not None
    elif kind == "integer":
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and _is_integer_text(value)
        )
    else:  # boolean
        ok = isinstance(value, bool) or (
            isinstance(value, str) and value.strip().lower() in ("true", "false")
        )
    if not ok:
        raise _type_error(value, declared, key, where)


def _is_integer_text(text: str) -> bool:
    try:
        int(text.strip())
    except ValueError:
        return False
    return True


def _placeholder_for(declared: Mapping[str, Any] | None) -> Any:
    """A secret's stand-in of the declared type, so `require_int` and friends still work."""
    kind = declared.get("type") if declared else None
    return {"integer": 1, "boolean": False, "array": [], "object": {}}.get(
        str(kind), SECRET_PLACEHOLDER
    )


def to_language_host_string(value: Any) -> str:
    """How the CLI hands one config value to a program: strings as-is, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))


def available_stacks(config_dir: Path) -> list[str]:
    names = []
    for path in sorted(config_dir.glob("Pulumi.*.y*ml")):
        stem = path.name[len("Pulumi.") :].rsplit(".", 1)[0]
        if stem:
            names.append(stem)
    return names


def load_stack(project_dir: Path, stack: str | None) -> StackConfig:
    """Load the project at `project_dir` and the stack `stack` (the only stack file if omitted)."""
    project_dir = project_dir.resolve()
    if not project_dir.is_dir():
        raise ProjectError(f"--cwd {project_dir} is not a folder")
    project_file = find_project_file(project_dir)
    project = _read_yaml_mapping(project_file, "project file")

    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise ProjectError(f"{project_file.name}: 'name' is required (the project's name)")
    runtime = _runtime_name(project.get("runtime"), project_file)
    if runtime != "python":
        raise ProjectError(
            f"{project_file.name}: runtime is {runtime!r}; the offline preview runs Python "
            "programs only"
        )
    program_file = _program_file(project_dir, project.get("main"), project_file)
    toolchain, virtualenv = _runtime_options(project.get("runtime"), project_file)
    environment = resolve_python_environment(
        project_dir, program_file.parent, toolchain, virtualenv
    )

    stack_dir_setting = project.get("stackConfigDir")
    config_dir = (
        project_dir / stack_dir_setting if isinstance(stack_dir_setting, str) else project_dir
    )
    stacks = available_stacks(config_dir)
    if stack is None:
        if len(stacks) != 1:
            choices = ", ".join(stacks) if stacks else "none found"
            raise ProjectError(f"--stack is required: pick one of the project's stacks ({choices})")
        stack = stacks[0]
    stack_file = next(
        (
            config_dir / f"Pulumi.{stack}.{ext}"
            for ext in ("yaml", "yml")
            if (config_dir / f"Pulumi.{stack}.{ext}").is_file()
        ),
        None,
    )
    if stack_file is None:
        known = f" (stack files found: {', '.join(stacks)})" if stacks else ""
        raise ProjectError(
            f"stack '{stack}' has no config file Pulumi.{stack}.yaml in {config_dir}{known}; "
            "create it or pass another --stack"
        )

    declarations = parse_declarations(project.get("config"), name)
    stack_doc = _read_yaml_mapping(stack_file, "stack file")
    warnings: list[str] = []
    if environment is not None and not environment.usable:
        # `pulumi preview` stops here (pip.go `ValidateVenv`, `NewVirtualEnvError`). The
        # program still runs here, with this interpreter: when it has every SDK the program
        # imports the verdict stands; a missing one ends the run naming this (runner.py).
        warnings.append(
            f"{environment.describe()}: {environment.problem}, so `pulumi preview` would stop "
            "here; the program ran with the offline preview's own interpreter. Create it with "
            f"`{environment.setup_command()}`"
        )
    if stack_doc.get("environment"):
        warnings.append(
            f"{stack_file.name} imports ESC environments; they are not resolved offline"
        )
    raw_stack_config = stack_doc.get("config") or {}
    if not isinstance(raw_stack_config, dict):
        raise ProjectError(f"{stack_file.name}: 'config' must be a mapping of keys to values")

    merged: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for declaration in declarations.values():
        if declaration.has_default:
            merged[declaration.key] = declaration.default
    for key, value in raw_stack_config.items():
        if not isinstance(key, str):
            raise ProjectError(f"{stack_file.name}: config key {key!r} must be a string")
        full = _full_key(key, name, "stack")
        merged[full] = value

    keys_set_by_stack = {_full_key(key, name, "stack") for key in raw_stack_config}
    values: dict[str, Any] = {}
    for key, value in merged.items():
        declared = declarations.get(key)
        declared_type = declared.type if declared else None
        if _contains_secure(value):
            secret_keys.add(key)
            values[key] = _replace_secure(value, _placeholder_for(declared_type))
            continue
        if declared is not None and declared.secret and key in keys_set_by_stack:
            raise ProjectError(
                f"configuration key '{key}' is declared secret in Pulumi.yaml but "
                f"{stack_file.name} holds it in plain text; set it with "
                f"`pulumi config set --secret {key} <value>`"
            )
        if value is None:
            raise ProjectError(
                f"configuration key '{key}' in {stack_file.name} has no value; give it one or "
                "remove the line"
            )
        if declared_type is not None:
            _check_type(value, declared_type, key, stack_file.name)
        values[key] = value

    for declaration in declarations.values():
        if declaration.key not in values and declaration.type is not None:
            hint = f": {declaration.description}" if declaration.description else ""
            raise ProjectError(
                f"stack '{stack}' is missing configuration value '{declaration.key}'{hint}; "
                f"set it in {stack_file.name} (or give it a default in Pulumi.yaml)"
            )

    config = {key: to_language_host_string(value) for key, value in values.items()}
    return StackConfig(
        project_dir=project_dir,
        project_name=name,
        stack=stack,
        stack_file=stack_file,
        program_file=program_file,
        config=config,
        secret_keys=sorted(secret_keys),
        values=values,
        warnings=warnings,
        python_environment=environment,
    )
