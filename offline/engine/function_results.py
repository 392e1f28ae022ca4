"""Plausible answers to any pulumi-aws provider function, built from the SDK's own metadata.

A token such as `aws:ec2/getAmi:getAmi` is generated as the module `pulumi_aws.ec2.get_ami`: its
`get_ami_output` function maps each Python parameter to the engine name it sends
(`__args__['nameRegex'] = name_regex`) and marks required parameters by their annotation
(`Input[Optional[T]]`, where optional ones are `Input[Optional[Optional[T]]]`), and its result
class (`typ=GetAmiResult`) declares every field with `@pulumi.getter(name=...)` and a return
annotation. Nested result types are classes in the module's `outputs` submodule, declared the
same way. That is enough to build a value of the declared type for every field, with strings
shaped by the field's name (ARNs, EC2 ids, CIDRs, timestamps...) and the call's own arguments
echoed into the fields of the same name, so a program's `get_*` result is what it expects.
"""

from __future__ import annotations

import ast
import collections.abc
import enum
import functools
import importlib
import importlib.util
import json
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Union

from pulumi import _types

from .fake_outputs import ACCOUNT_ID, PARTITION, stable_hex, stable_token, stable_uuid

#: The SDK package whose functions are answered generically.
AWS_PACKAGE: Final[str] = "aws"
_SDK_MODULE: Final[str] = "pulumi_aws"
#: Output types can refer to themselves (directly or through others): stop descending here.
_MAX_DEPTH: Final[int] = 6
#: A timestamp in the past, stable from run to run, for every date-like field.
FIXED_TIMESTAMP: Final[str] = "2025-01-01T00:00:00Z"
#: Minimal valid IAM policy, for fields that hold a JSON policy document.
_EMPTY_POLICY: Final[str] = json.dumps({"Version": "2012-10-17", "Statement": []})

#: EC2-style identifier prefixes by resource kind (what AWS returns, 17 hex digits after them).
EC2_ID_PREFIXES: Final[dict[str, str]] = {
    "ami": "ami",
    "image": "ami",
    "vpc": "vpc",
    "subnet": "subnet",
    "security group": "sg",
    "group": "sg",
    "instance": "i",
    "internet gateway": "igw",
    "egress only internet gateway": "eigw",
    "nat gateway": "nat",
    "route table": "rtb",
    "network interface": "eni",
    "network acl": "acl",
    "volume": "vol",
    "ebs volume": "vol",
    "snapshot": "snap",
    "ebs snapshot": "snap",
    "key pair": "key",
    "eip": "eipalloc",
    "allocation": "eipalloc",
    "association": "eipassoc",
    "vpc endpoint": "vpce",
    "vpc peering connection": "pcx",
    "transit gateway": "tgw",
    "prefix list": "pl",
    "managed prefix list": "pl",
    "launch template": "lt",
    "dhcp options": "dopt",
    "customer gateway": "cgw",
    "vpn gateway": "vgw",
    "placement group": "pg",
    "capacity reservation": "cr",
}

#: Token modules whose ARNs name another service.
_ARN_SERVICES: Final[dict[str, str]] = {
    "sfn": "states",
    "alb": "elasticloadbalancing",
    "lb": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "applicationloadbalancing": "elasticloadbalancing",
    "cognito": "cognito-idp",
    "cloudwatch": "cloudwatch",
    "apigatewayv2": "apigateway",
}

#: ARNs named by a field (`roleArn`, `topicArn`...): the service they belong to.
_ARN_SERVICE_BY_KIND: Final[dict[str, str]] = {
    "role": "iam",
    "policy": "iam",
    "user": "iam",
    "instance profile": "iam",
    "topic": "sns",
    "queue": "sqs",
    "function": "lambda",
    "layer": "lambda",
    "key": "kms",
    "kms key": "kms",
    "bucket": "s3",
    "certificate": "acm",
    "log group": "logs",
    "state machine": "states",
    "table": "dynamodb",
    "secret": "secretsmanager",
    "target group": "elasticloadbalancing",
    "load balancer": "elasticloadbalancing",
}

#: Services whose ARNs carry no region.
_GLOBAL_SERVICES: Final[frozenset[str]] = frozenset(
    {"iam", "route53", "s3", "cloudfront", "organizations", "waf", "shield", "globalaccelerator"}
)

_PLURALS: Final[dict[str, str]] = {
    "ids": "id",
    "arns": "arn",
    "names": "name",
    "zones": "zone",
    "addresses": "address",
    "policies": "policy",
    "entries": "entry",
    "aliases": "alias",
    "blocks": "block",
}


class UnknownFunction(LookupError):
    """The token is not a function of the installed pulumi-aws."""


@dataclass(frozen=True)
class FunctionInfo:
    """What the SDK declares about one provider function."""

    token: str
    #: The Python module that defines it (`pulumi_aws.ec2.get_ami`).
    module: str
    #: The Python function (`get_ami`): the `_output` form sends the same token.
    function: str
    result_type: type
    #: Engine names of the arguments the provider requires.
    required: tuple[str, ...]
    #: Engine names of every argument the function takes.
    arguments: tuple[str, ...] = ()

    @property
    def service(self) -> str:
        """The token's module (`ec2`), which names the AWS service in most ARNs."""
        return self.token.split(":")[1].split("/")[0]

    @property
    def kind(self) -> tuple[str, ...]:
        """`getInstanceType` -> ("instance", "type"): what the function describes."""
        name = self.token.rsplit(":", 1)[-1]
        words = camel_words(name)
        if words and words[0] == "get":
            words = words[1:]
        return tuple(words) or (self.service,)


def camel_words(name: str) -> list[str]:
    """`cidrBlockAssociations` -> ["cidr", "block", "associations"], `getIPRanges` too."""
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", spaced)
    return [word.lower() for word in re.split(r"[\s_\-]+", spaced) if word]


def snake_case(name: str) -> str:
    return "_".join(camel_words(name))


def zone_id_prefix(region: str) -> str:
    """us-east-1 -> use1, ap-southeast-2 -> apse2: the prefix of AWS's zone ids."""
    directions = {
        "north": "n",
        "south": "s",
        "east": "e",
        "west": "w",
        "central": "c",
        "northeast": "ne",
        "northwest": "nw",
        "southeast": "se",
        "southwest": "sw",
    }
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    country, *middle, number = parts
    return country + "".join(directions.get(part, part[:1]) for part in middle) + number


def _sdk_root() -> Path | None:
    spec = importlib.util.find_spec(_SDK_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _candidate_files(root: Path, module: str, function: str) -> list[Path]:
    """Where the generator puts the function: `<module>/<snake>.py` (`lambda` is `lambda_`)."""
    folders = [root] if module == "index" else [root / module, root / f"{module}_"]
    found = [folder / f"{snake_case(function)}.py" for folder in folders]
    return [path for path in found if path.is_file()]


def _defining_file(token: str) -> Path | None:
    root = _sdk_root()
    parts = token.split(":")
    if root is None or len(parts) != 3 or parts[0] != AWS_PACKAGE:
        return None
    module = parts[1].split("/")[0]
    quoted = f"'{token}'"
    for path in _candidate_files(root, module, parts[2]):
        if quoted in path.read_text(encoding="utf-8"):
            return path
    # A name the generator spelled differently: look through the module's own files.
    folders = [root] if module == "index" else [root / module, root / f"{module}_"]
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            if quoted in path.read_text(encoding="utf-8"):
                return path
    return None


def _invoke_call(node: ast.AST, token: str) -> ast.Call | None:
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and call.args[0].value == token
        ):
            return call
    return None


def _argument_names(function: ast.FunctionDef) -> dict[str, str]:
    """Python parameter -> engine name, from `__args__['engineName'] = python_name`."""
    names: dict[str, str] = {}
    for statement in ast.walk(function):
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            continue
        target = statement.targets[0]
        if (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and target.value.id == "__args__"
            and isinstance(target.slice, ast.Constant)
            and isinstance(statement.value, ast.Name)
        ):
            names[statement.value.id] = str(target.slice.value)
    return names


def _is_required(annotation: ast.expr | None) -> bool:
    # Evaluated, both spellings collapse to Optional[T]; the source keeps the difference.
    if annotation is None:
        return False
    text = ast.unparse(annotation).replace(" ", "")
    return text.startswith("pulumi.Input[Optional[") and not text.startswith(
        "pulumi.Input[Optional[Optional["
    )


@functools.cache
def find_function(token: str) -> FunctionInfo:
    """The SDK's declaration of `token`; raises UnknownFunction when pulumi-aws has none."""
    path = _defining_file(token)
    if path is None:
        raise UnknownFunction(token)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    plain: ast.FunctionDef | None = None
    output_form: ast.FunctionDef | None = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and _invoke_call(node, token) is not None:
            if node.name.endswith("_output"):
                output_form = node
            else:
                plain = plain or node
    declared = output_form or plain
    if declared is None:
        raise UnknownFunction(token)
    call = _invoke_call(declared, token)
    result_name = next(
        (
            keyword.value.id
            for keyword in (call.keywords if call is not None else [])
            if keyword.arg == "typ" and isinstance(keyword.value, ast.Name)
        ),
        None,
    )
    root = _sdk_root()
    assert root is not None  # _defining_file found the file under it
    module_name = ".".join((_SDK_MODULE, *path.relative_to(root).with_suffix("").parts))
    module = importlib.import_module(module_name)
    result_type = getattr(module, result_name or "", None)
    if not isinstance(result_type, type):
        raise UnknownFunction(token)
    names = _argument_names(declared)
    parameters = [arg for arg in declared.args.args if arg.arg != "opts"]
    # Only the `_output` form's annotations tell a required argument from an optional one.
    required = (
        tuple(names[a.arg] for a in parameters if a.arg in names and _is_required(a.annotation))
        if output_form is not None
        else ()
    )
    return FunctionInfo(
        token=token,
        module=module_name,
        function=(plain or declared).name,
        result_type=result_type,
        required=required,
        arguments=tuple(names[a.arg] for a in parameters if a.arg in names),
    )


@functools.cache
def result_fields(cls: type) -> dict[str, Any]:
    """Engine name -> declared type of every `@pulumi.getter` property of an output type."""
    module = sys.modules.get(cls.__module__)
    namespace = dict(vars(module)) if module is not None else {}
    fields: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for member in vars(klass).values():
            if not isinstance(member, property) or member.fget is None:
                continue
            engine_name = getattr(member.fget, "_pulumi_name", None)
            if not isinstance(engine_name, str):
                continue
            try:
                hints = typing.get_type_hints(member.fget, globalns=namespace)
            except (NameError, TypeError, AttributeError):
                hints = {}
            fields[engine_name] = hints.get("return", Any)
    return fields


# -- values by declared type and by field name -----------------------------------------------


@dataclass(frozen=True)
class Shaper:
    """Builds field values for one call: its function, region and a seed stable per call."""

    info: FunctionInfo
    region: str
    seed: str
    arguments: Mapping[str, Any]

    def token(self, path: str, length: int) -> str:
        return stable_token(f"{self.seed}|{path}", length)

    def hex(self, path: str, length: int) -> str:
        return stable_hex(f"{self.seed}|{path}", length)

    # -- typed walk --------------------------------------------------------------------------

    def value(self, hint: Any, words: Sequence[str], path: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            return None
        origin = typing.get_origin(hint)
        parameters = typing.get_args(hint)
        if origin is Union or origin is types.UnionType:
            present = [p for p in parameters if p is not type(None)]
            return self.value(present[0], words, path, depth) if present else None
        if origin in (list, collections.abc.Sequence, tuple):
            item = parameters[0] if parameters else str
            return self.sequence(item, words, path, depth)
        if origin in (dict, collections.abc.Mapping):
            return {}
        if isinstance(hint, type):
            if issubclass(hint, enum.Enum):
                return next(iter(hint)).value
            if hint is bool:
                return self.boolean(words)
            if hint is int:
                return self.integer(words)
            if hint is float:
                return float(self.integer(words))
            if hint is str:
                return self.string(words, path)
            if _types.is_output_type(hint):
                return self.object(hint, path, depth + 1)
        return None

    def object(self, cls: type, path: str, depth: int) -> dict[str, Any]:
        built: dict[str, Any] = {}
        for engine_name, hint in result_fields(cls).items():
            built[engine_name] = self.value(
                hint, camel_words(engine_name), f"{path}.{engine_name}", depth
            )
        return built

    def sequence(self, item: Any, words: Sequence[str], path: str, depth: int) -> list[Any]:
        # One element: enough for `result.ids[0]` and loops, and no more than AWS promises.
        singular = [*words[:-1], _PLURALS.get(words[-1], words[-1])] if words else []
        value = self.value(item, singular, f"{path}[0]", depth)
        return [] if value is None else [value]

    # -- primitives by name -------------------------------------------------------------------

    @staticmethod
    def boolean(words: Sequence[str]) -> bool:
        positive = {"enabled", "enable", "support", "available", "active", "healthy"}
        return any(word in positive for word in words)

    @staticmethod
    def integer(words: Sequence[str]) -> int:
        last = words[-1] if words else ""
        by_word = {
            "port": 443,
            "timeout": 30,
            "seconds": 60,
            "duration": 3600,
            "ttl": 300,
            "mib": 1024,
            "memory": 1024,
            "size": 8,
            "gib": 8,
            "percent": 50,
            "percentage": 50,
            "days": 7,
            "minutes": 5,
            "hours": 1,
            "priority": 100,
            "number": 100,
        }
        return by_word.get(last, 1)

    def kind_of(self, words: Sequence[str]) -> tuple[str, ...]:
        """The resource a field names (`vpcId` -> vpc), or the function's own."""
        named = tuple(w for w in words[:-1] if w not in ("source", "target", "default", "owner"))
        return named or self.info.kind

    def identity(self) -> str | None:
        """The name the call looks its object up by (`functionName`, `name`, `bucket`...)."""
        for name in (*self.info.required, "name"):
            value = self.arguments.get(name)
            if isinstance(value, str) and value and not value.startswith("arn:"):
                return value
        return None

    def resource_id(self, kind: Sequence[str], path: str) -> str:
        if tuple(kind) == self.info.kind:
            # The object the function describes has one id, whichever field shows it (`id`,
            # `internetGatewayId`, the one inside its ARN).
            path = "self"
        phrase = " ".join(kind)
        for size in range(len(kind), 0, -1):
            # "default security group" -> "security group": the longest known tail wins.
            tail = " ".join(kind[-size:])
            if tail in EC2_ID_PREFIXES:
                return f"{EC2_ID_PREFIXES[tail]}-{self.hex(path, 17)}"
        if phrase in ("kms key", "key"):
            return stable_uuid(f"{self.seed}|{path}")
        return self.token(path, 12)

    def data_source_id(self, path: str) -> str:
        """A data source's own id: an EC2 id for EC2 objects, else the looked-up key."""
        kind = self.info.kind
        if " ".join(kind) in EC2_ID_PREFIXES or kind[-1] in EC2_ID_PREFIXES:
            return self.resource_id(kind, path)
        for name in self.info.required:
            value = self.arguments.get(name)
            if isinstance(value, str) and value:
                return value
        return self.region if not self.info.required else self.token(path, 12)

    def arn(self, kind: Sequence[str], path: str) -> str:
        phrase = " ".join(kind)
        service = _ARN_SERVICE_BY_KIND.get(phrase) if kind != self.info.kind else None
        if service is None:
            service = _ARN_SERVICES.get(self.info.service, self.info.service)
            if service == "cloudwatch" and "log" in kind:
                service = "logs"
        region = "" if service in _GLOBAL_SERVICES else self.region
        account = "" if service == "s3" else ACCOUNT_ID
        own = self.identity() if tuple(kind) == self.info.kind else None
        name = own or f"{'-'.join(kind)}-{self.hex(path, 8)}"
        if service in ("sns", "sqs", "s3"):
            resource = name
        elif service == "lambda":
            resource = f"function:{name}"
        elif phrase in EC2_ID_PREFIXES or (bool(kind) and kind[-1] in EC2_ID_PREFIXES):
            resource = f"{'-'.join(kind)}/{self.resource_id(kind, path)}"
        else:
            resource = f"{'-'.join(kind)}/{name}"
        return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"

    def string(self, words: Sequence[str], path: str) -> str:
        if not words:
            return self.token(path, 10)
        last = words[-1]
        kind = self.kind_of(words)
        if last == "arn":
            return self.arn(kind, path)
        if last == "id" and len(words) == 1:
            return self.data_source_id(path)
        if words[-2:] in (["account", "id"], ["owner", "id"]) or last in ("owner", "account"):
            return ACCOUNT_ID
        if last == "region" or words[-2:] == ["region", "name"]:
            return self.region
        if "zone" in words and "availability" in words:
            return f"{self.region}a" if last != "id" else f"{zone_id_prefix(self.region)}-az1"
        if last == "id":
            return self.resource_id(kind, path)
        if last == "cidr" or words[-2:] == ["cidr", "block"]:
            return "2600:1f18:4000:6a00::/56" if "ipv6" in words else "10.0.0.0/16"
        if last in ("ip", "address") or words[-2:] == ["ip", "address"]:
            return "203.0.113.10" if "public" in words else "10.0.0.10"
        if last in ("url", "uri", "endpoint"):
            host = f"{_ARN_SERVICES.get(self.info.service, self.info.service)}.{self.region}"
            return f"https://{host}.amazonaws.com/{'-'.join(kind)}-{self.hex(path, 8)}"
        if last in ("domain", "hostname", "fqdn", "dns") or words[-2:] in (
            ["dns", "name"],
            ["domain", "name"],
            ["host", "name"],
        ):
            return f"{'-'.join(kind)}-{self.hex(path, 6)}.example.com"
        if last in ("date", "time", "timestamp", "created", "modified", "updated") or (
            last == "at" and len(words) > 1
        ):
            return FIXED_TIMESTAMP
        if last in ("policy", "document", "json") or words[-2:] == ["assume", "role"]:
            return _EMPTY_POLICY
        if last in ("status", "state"):
            return "available"
        if last == "architecture":
            return "x86_64"
        if last in ("fingerprint", "hash", "checksum", "etag", "digest", "sha256"):
            return self.hex(path, 32)
        if last == "version":
            return "1"
        if last == "path":
            return "/"
        if last == "description":
            return f"{' '.join(kind)} (answered offline)"
        return f"{'-'.join(kind)}-{self.hex(path, 8)}"


def plain_arguments(args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments the program actually gave: the SDK sends every parameter, unset ones as None."""
    return {key: value for key, value in args.items() if value is not None}


def call_seed(token: str, args: Mapping[str, Any]) -> str:
    return token + "|" + json.dumps(plain_arguments(args), sort_keys=True, default=str)


def missing_required(info: FunctionInfo, args: Mapping[str, Any]) -> list[str]:
    return [name for name in info.required if args.get(name) in (None, "")]


def plausible_result(info: FunctionInfo, args: Mapping[str, Any], region: str) -> dict[str, Any]:
    """A value of the function's declared result type, echoing the call's own arguments."""
    shaper = shaper_for(info, args, region)
    given = plain_arguments(args)
    result: dict[str, Any] = {}
    for engine_name, hint in result_fields(info.result_type).items():
        if engine_name in given:
            result[engine_name] = given[engine_name]
        elif engine_name == "region" and typing.get_args(hint) in ((str, type(None)), ()):
            result[engine_name] = region
        else:
            result[engine_name] = shaper.value(hint, camel_words(engine_name), engine_name, 0)
    return result


def shaper_for(info: FunctionInfo, args: Mapping[str, Any], region: str) -> Shaper:
    return Shaper(info=info, region=region, seed=call_seed(info.token, args), arguments=dict(args))


# -- arguments typed as the provider types them ----------------------------------------------

#: The strings Go's `strconv.ParseBool` accepts, which the provider's schema layer uses to read a
#: string given for a boolean argument (terraform-plugin-sdk v2 `helper/schema` weak decoding via
#: mapstructure, which calls ParseBool; the bridge hands the string through unchanged).
_TRUE_STRINGS: Final[frozenset[str]] = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE_STRINGS: Final[frozenset[str]] = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class ArgumentTypeError(ValueError):
    """An argument the provider cannot read as its declared type (it refuses the call)."""


def declared_kind(hint: Any) -> Any:
    """`Optional[bool]` -> bool, `Optional[Sequence[str]]` -> list: the declared kind, or None."""
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        present = [p for p in typing.get_args(hint) if p is not type(None)]
        return declared_kind(present[0]) if len(present) == 1 else None
    if origin in (list, collections.abc.Sequence, tuple):
        return list
    if hint in (bool, int, float, str):
        return hint
    return None


def _element_hint(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        present = [p for p in typing.get_args(hint) if p is not type(None)]
        return _element_hint(present[0]) if len(present) == 1 else None
    parameters = typing.get_args(hint)
    return parameters[0] if origin in (list, collections.abc.Sequence) and parameters else None


def coerce_value(name: str, value: Any, hint: Any) -> Any:
    """`value` as the provider reads it for an argument declared `hint`.

    pulumi-terraform-bridge `pkg/tfbridge/schema.go` (makeTerraformInput, `case v.IsString()`)
    parses a string given for an integer with `strconv.ParseInt(s, 10, 64)` and truncates a
    number given for one; Terraform's SDK reads a string given for a boolean or a float with
    `strconv.ParseBool` / `strconv.ParseFloat` (mapstructure weak decoding) and a number given
    for a string as its decimal text (`case v.IsNumber()`). A scalar given for a list is refused
    (the SDK's schema validation: "should be a list").
    The answer then carries the typed value, as the provider's result does.
    """
    kind = declared_kind(hint)
    if kind is None or value is None:
        return value
    if kind is bool and isinstance(value, str):
        if value in _TRUE_STRINGS or value in _FALSE_STRINGS:
            return value in _TRUE_STRINGS
        if value == "":
            return False
        raise ArgumentTypeError(f"'{name}': cannot parse {value!r} as a bool")
    if kind is int and not isinstance(value, bool):
        if isinstance(value, str):
            try:
                return int(value.strip(), 10)
            except ValueError:
                raise ArgumentTypeError(f"'{name}': cannot parse {value!r} as an int") from None
        if isinstance(value, float):
            return int(value)
    if kind is float and not isinstance(value, bool):
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise ArgumentTypeError(f"'{name}': cannot parse {value!r} as a float") from None
        if isinstance(value, int):
            return float(value)
    if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
        # schema.go, `case v.IsNumber()` for TypeString: strconv.FormatFloat(n, 'f', -1, 64).
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if kind is list:
        if isinstance(value, (str | int | float | bool, Mapping)):
            raise ArgumentTypeError(f"'{name}': should be a list, got {type(value).__name__}")
        element = _element_hint(hint)
        if isinstance(value, list) and declared_kind(element) in (bool, int, float, str):
            return [coerce_value(f"{name}[{i}]", item, element) for i, item in enumerate(value)]
    return value


def coerce_arguments(info: FunctionInfo, args: Mapping[str, Any]) -> dict[str, Any]:
    """The call's arguments typed as the result type declares the fields of the same name
    (the ones the provider echoes); ArgumentTypeError for one it cannot read."""
    fields = result_fields(info.result_type)
    return {
        key: coerce_value(key, value, fields[key]) if key in fields else value
        for key, value in args.items()
    }
