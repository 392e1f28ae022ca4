"""Call the task API with a SigV4 signature (IAM authorization, service `execute-api`), and
the client's API key where the stack wants one.

    python -m tools.signed_call POST https://tasks.example.com/tasks \\
        --data '{"taskType": "sum", "parameters": {"numbers": [1, 2]}}' \\
        --header 'Idempotency-Key: 6f1c0c4e-0d4b-4c7a-9f1e-2b7f8d0c3a11'
    python -m tools.signed_call GET https://tasks.example.com/tasks/<taskId>
    python -m tools.signed_call GET https://tasks.example.com/tasks/<taskId> --region eu-west-1

Every route but `GET /health` requires the caller to sign for the region that serves the
request: API Gateway answers 403 "Credential should be scoped to a valid region" to a signature
scoped to any other region. The service's name is latency-routed across regions, so the region
is learned first from the open health route (`GET <base>/health` names it in `region`), and on
that 403 (the name now resolves to another region) it is learned again, once, and the call is
repeated. Repeating is safe for a POST too: API Gateway refused the request before the function
saw it. `--region` signs for the given region and learns nothing (for a regional endpoint).

The base URL is everything before the first `/tasks`, `/bookings` or `/health` segment of the URL
(the custom domain's base path or the stage), or the whole URL when it has none of them.

API keys (`apiAuthorization: iam+apiKey`, or `apiKey` with `--unsigned`): `--api-key-file FILE`,
or the environment variable RESILIENT_API_KEY, holds the client's key: one value (a client
`sharedAcrossRegions`), or a JSON object of region -> value (each region's key has its own value
by default: `aws apigateway get-api-key --api-key <id from apiKeyIds> --include-value --region
<region> --query value --output text`). The call sends the value of the region it signs for in
`x-api-key`. Never on the command line, where other users and shell histories see it.

Credentials come from botocore's standard chain (environment, AWS_PROFILE, SSO, instance or
container role). The answer's body goes to stdout, its status to stderr; the exit status is 0
for a 2xx or 3xx answer and 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.session import get_session

SERVICE: Final[str] = "execute-api"
#: The start of API Gateway's 403 message for a signature scoped to another region.
WRONG_REGION_MESSAGE: Final[str] = "Credential should be scoped to a valid region"
HEALTH_ROUTE: Final[str] = "/health"
#: The path segments the API's routes start with: what precedes them is the base URL.
ROUTE_SEGMENTS: Final[tuple[str, ...]] = ("tasks", "bookings", "health")
METHODS: Final[tuple[str, ...]] = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
REGION_PATTERN: Final = re.compile(r"^[a-z]{2}(?:-[a-z]+){1,3}-[0-9]{1,2}\Z")
DEFAULT_TIMEOUT_S: Final[float] = 30.0
#: Where the client's API key (or its keys by region, as JSON) is read from without a file.
API_KEY_ENV: Final[str] = "RESILIENT_API_KEY"
API_KEY_HEADER: Final[str] = "x-api-key"
#: API Gateway's 403 message for a missing or unknown API key (and for an unknown route).
FORBIDDEN_MESSAGE: Final[str] = "Forbidden"


class SignedCallError(Exception):
    """The call could not be made: no credentials, no region, the endpoint unreachable."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    #: Header names in lower case.
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON; {} when empty, ValueError when it is not JSON."""
        return json.loads(self.body) if self.body.strip() else {}

    def message(self) -> str:
        """API Gateway's own error text (`{"message": ...}`), or "" for any other body."""
        try:
            body = self.json()
        except ValueError:
            return ""
        message = body.get("message") if isinstance(body, dict) else None
        return message if isinstance(message, str) else ""


#: Sends one request: (method, url, headers, body) -> the answer, whatever its status.
Transport = Callable[[str, str, Mapping[str, str], bytes | None], HttpAnswer]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        # A signature covers one host and path: a redirect is returned, not followed.
        return None


def urllib_transport(timeout_s: float = DEFAULT_TIMEOUT_S) -> Transport:
    """HTTP(S) with the standard library; redirects are not followed."""
    opener = urllib.request.build_opener(_NoRedirect)

    def send(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> HttpAnswer:
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
        try:
            with opener.open(request, timeout=timeout_s) as response:
                return HttpAnswer(
                    response.status,
                    {key.lower(): value for key, value in response.headers.items()},
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            return HttpAnswer(
                error.code,
                {key.lower(): value for key, value in (error.headers or {}).items()},
                error.read() or b"",
            )
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SignedCallError(f"cannot reach {url}: {reason}") from None

    return send


def health_url(url: str) -> str:
    """The open health route of the API that serves `url`."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    for index, segment in enumerate(segments):
        if segment in ROUTE_SEGMENTS:
            segments = segments[:index]
            break
    base = "/".join(segments).rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, base + HEALTH_ROUTE, "", ""))


def learn_region(url: str, transport: Transport) -> str:
    """The region that serves `url` now, from the health route's `region` (answered by a
    healthy region with 200 and by an unhealthy one with 503)."""
    health = health_url(url)
    answer = transport("GET", health, {"Accept": "application/json"}, None)
    try:
        body = answer.json()
    except ValueError:
        body = None
    region = body.get("region") if isinstance(body, dict) else None
    if not isinstance(region, str) or not REGION_PATTERN.match(region):
        raise SignedCallError(
            f"cannot learn the serving region: GET {health} answered {answer.status} without "
            "a region name in its body; pass --region REGION (the region of the endpoint)"
        )
    return region


def default_credentials() -> Any:
    """The credentials of botocore's standard chain, or SignedCallError naming the fix."""
    credentials = get_session().get_credentials()
    if credentials is None:
        raise SignedCallError(
            "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or run `aws configure` / `aws sso login`"
        )
    return credentials


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    region: str,
    credentials: Any,
) -> dict[str, str]:
    """The headers to send: `headers` plus Host, X-Amz-Date, Authorization (and
    X-Amz-Security-Token for temporary credentials), signed for `execute-api` in `region`.

    Host is set explicitly so the header sent is the one signed, whatever the HTTP client.
    """
    frozen = (
        credentials.get_frozen_credentials()
        if hasattr(credentials, "get_frozen_credentials")
        else credentials
    )
    to_sign = {key: value for key, value in headers.items() if key.lower() != "host"}
    request = AWSRequest(
        method=method, url=url, data=body or b"", headers={"Host": urlsplit(url).netloc, **to_sign}
    )
    SigV4Auth(frozen, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


@dataclass(frozen=True)
class ApiKeys:
    """A client's API key: one value for every region (`shared`), or a value per region."""

    shared: str | None = None
    by_region: Mapping[str, str] = field(default_factory=dict)

    @property
    def per_region(self) -> bool:
        return self.shared is None

    def for_region(self, region: str | None) -> str:
        if self.shared is not None:
            return self.shared
        if region is None or region not in self.by_region:
            known = ", ".join(sorted(self.by_region)) or "none"
            raise SignedCallError(
                f"no API key for region {region}: the key file has {known}; add "
                f'"{region}": "<value>" (aws apigateway get-api-key --api-key <id> '
                f"--include-value --region {region})"
            )
        return self.by_region[region]


def parse_api_keys(text: str, source: str) -> ApiKeys:
    """One key value, or a JSON object of region -> value, from `source` (named in errors)."""
    text = text.strip()
    if not text:
        raise SignedCallError(f"{source}: no API key in it")
    if text.startswith("{"):
        try:
            found = json.loads(text)
        except ValueError as error:
            raise SignedCallError(
                f"{source}: not a JSON object of region -> key ({error})"
            ) from None
        if not isinstance(found, dict) or not found:
            raise SignedCallError(f"{source}: expected a JSON object of region -> key value")
        for region, value in found.items():
            if not REGION_PATTERN.match(str(region)):
                raise SignedCallError(f"{source}: {region!r} is not an AWS region name")
            if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
                raise SignedCallError(f"{source}: the key of {region} must be a non-empty string")
        return ApiKeys(by_region={str(k): str(v).strip() for k, v in found.items()})
    if any(character.isspace() for character in text):
        raise SignedCallError(
            f"{source}: expected one key value (or a JSON object of region -> value), got text "
            "with spaces or several lines"
        )
    return ApiKeys(shared=text)


def read_api_keys(key_file: Path | None, environ: Mapping[str, str]) -> ApiKeys | None:
    """The key from `key_file`, else from $RESILIENT_API_KEY; None when neither is given."""
    if key_file is not None:
        try:
            text = key_file.read_text(encoding="utf-8")
        except OSError as error:
            raise SignedCallError(f"--api-key-file {key_file}: {error.strerror}") from None
        return parse_api_keys(text, f"--api-key-file {key_file}")
    text = environ.get(API_KEY_ENV, "")
    return parse_api_keys(text, f"${API_KEY_ENV}") if text.strip() else None


def is_forbidden(answer: HttpAnswer) -> bool:
    """API Gateway's 403 for a missing or unknown API key."""
    return answer.status == 403 and answer.message() == FORBIDDEN_MESSAGE


def is_wrong_region(answer: HttpAnswer) -> bool:
    """API Gateway's 403 for a signature scoped to a region other than the serving one."""
    return answer.status == 403 and answer.message().startswith(WRONG_REGION_MESSAGE)


class SignedClient:
    """Signed calls to one service, remembering the region it learned.

    `region`: sign for this region and never learn (a regional endpoint). `transport`: how a
    request is sent (HTTP by default; the drills pass their local API Gateway). `api_keys`: the
    client's key, sent in `x-api-key` (the value of the region signed for). `sign=False` sends
    the key only (a stack with `apiAuthorization: apiKey`).
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        credentials: Any = None,
        transport: Transport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        api_keys: ApiKeys | None = None,
        sign: bool = True,
    ) -> None:
        if region is not None and not REGION_PATTERN.match(region):
            raise SignedCallError(f"not an AWS region name: {region!r} (e.g. eu-west-1)")
        if not sign and api_keys is None:
            raise SignedCallError("an unsigned call needs an API key (--api-key-file FILE)")
        self.fixed_region = region
        self.api_keys = api_keys
        self.signs = sign
        if sign:
            self.credentials = credentials if credentials is not None else default_credentials()
        else:
            self.credentials = credentials
        self.transport = transport or urllib_transport(timeout_s)
        self._learned: str | None = None
        self._lock = threading.Lock()
        #: Times the region was learned (the first time and after each wrong-region 403).
        self.region_lookups = 0

    def _learn(self, url: str, transport: Transport) -> str:
        region = learn_region(url, transport)
        with self._lock:
            self._learned = region
            self.region_lookups += 1
        return region

    def region_for(self, url: str, transport: Transport | None = None) -> str:
        """The region calls are signed for, learned from the health route on first use."""
        if self.fixed_region is not None:
            return self.fixed_region
        learned = self._learned
        return learned if learned is not None else self._learn(url, transport or self.transport)

    def call(
        self,
        method: str,
        url: str,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        transport: Transport | None = None,
    ) -> HttpAnswer:
        """One signed request (and at most one repeat, after learning the region again)."""
        send = transport or self.transport
        payload = body.encode("utf-8") if isinstance(body, str) else body
        extra = dict(headers or {})
        if payload and not any(key.lower() == "content-type" for key in extra):
            extra["Content-Type"] = "application/json"
        # The region matters to a signature and to a key of a value per region.
        needs_region = self.signs or (self.api_keys is not None and self.api_keys.per_region)
        region = self.region_for(url, send) if needs_region else None
        answer = send(method, url, self._headers(method, url, extra, payload, region), payload)
        if self.fixed_region is not None or not needs_region:
            return answer
        # A signature for another region is refused as such; a key of another region's value
        # only as Forbidden: either way the name now resolves to another region.
        moved = is_wrong_region(answer) if self.signs else is_forbidden(answer)
        if not moved:
            return answer
        relearned = self._learn(url, send)
        if relearned == region:
            return answer  # the health route still names the region that refused the call
        return send(method, url, self._headers(method, url, extra, payload, relearned), payload)

    def _headers(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        payload: bytes | None,
        region: str | None,
    ) -> dict[str, str]:
        """`headers`, the region's API key (when the client has one), and the signature."""
        sent = {key: value for key, value in headers.items() if key.lower() != API_KEY_HEADER}
        if self.api_keys is not None:
            sent[API_KEY_HEADER] = self.api_keys.for_region(region)
        if not self.signs:
            return sent
        assert region is not None
        return sign(method, url, sent, payload, region=region, credentials=self.credentials)


def signed_call(
    method: str,
    url: str,
    body: str | bytes | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    region: str | None = None,
    credentials: Any = None,
    transport: Transport | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    api_keys: ApiKeys | None = None,
    sign: bool = True,
) -> HttpAnswer:
    """One signed call (see the module's description)."""
    client = SignedClient(
        region=region,
        credentials=credentials,
        transport=transport,
        timeout_s=timeout_s,
        api_keys=api_keys,
        sign=sign,
    )
    return client.call(method, url, body, headers)


# --- Command line --------------------------------------------------------------------------


def _method(text: str) -> str:
    method = text.upper()
    if method not in METHODS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(METHODS)}, got {text!r}")
    return method


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise argparse.ArgumentTypeError(
            f"expected an absolute URL such as https://tasks.example.com/tasks, got {text!r}"
        )
    return text


def _region(text: str) -> str:
    if not REGION_PATTERN.match(text):
        raise argparse.ArgumentTypeError(
            f"expected an AWS region name such as eu-west-1, got {text!r}"
        )
    return text


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or name.strip() != name:
        raise argparse.ArgumentTypeError(
            f"expected 'Name: value', e.g. 'Idempotency-Key: <uuid>', got {text!r}"
        )
    return name, value.strip()


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 900:
        raise argparse.ArgumentTypeError(f"expected seconds from 0 to 900, got {text!r}")
    return value


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.signed_call",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("method", type=_method, metavar="METHOD", help="GET, POST, ...")
    parser.add_argument("url", type=_url, metavar="URL", help="the full URL, route included")
    parser.add_argument(
        "--data", help="the JSON body, or @FILE to read it from a file (POST, PUT, PATCH)"
    )
    parser.add_argument(
        "--header",
        "-H",
        type=_header,
        action="append",
        default=[],
        help="an extra header, 'Name: value' (repeatable)",
    )
    parser.add_argument(
        "--region", type=_region, help="sign for this region instead of learning it"
    )
    parser.add_argument(
        "--timeout", type=_timeout, default=DEFAULT_TIMEOUT_S, help="seconds per request"
    )
    parser.add_argument(
        "--api-key-file",
        type=Path,
        metavar="FILE",
        help=f"the client's API key (one value, or JSON region -> value), sent in x-api-key; "
        f"default ${API_KEY_ENV} if set",
    )
    parser.add_argument(
        "--unsigned",
        action="store_true",
        help="send the API key only, no signature (a stack with apiAuthorization: apiKey)",
    )
    arguments = parser.parse_args(argv)
    if arguments.data is not None:
        if arguments.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
            parser.error(f"--data: {arguments.method} sends no body; drop --data or use POST")
        arguments.data = _body(parser, arguments.data)
    return arguments


def _body(parser: argparse.ArgumentParser, data: str) -> str:
    if data.startswith("@"):
        try:
            data = Path(data[1:]).read_text(encoding="utf-8")
        except OSError as error:
            parser.error(f"--data: cannot read {data[1:]!r} ({error.strerror})")
    try:
        json.loads(data)
    except ValueError as error:
        parser.error(
            f"--data: not valid JSON ({error}); put the JSON in single quotes, or pass @FILE"
        )
    return data


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    import os

    arguments = _arguments(argv)
    try:
        keys = read_api_keys(arguments.api_key_file, os.environ if environ is None else environ)
        client = SignedClient(
            region=arguments.region,
            timeout_s=arguments.timeout,
            api_keys=keys,
            sign=not arguments.unsigned,
        )
        answer = client.call(
            arguments.method, arguments.url, arguments.data, dict(arguments.header)
        )
        needs_region = client.signs or (keys is not None and keys.per_region)
        region = client.region_for(arguments.url) if needs_region else None
    except SignedCallError as error:
        print(f"signed_call: {error}", file=sys.stderr)
        return 1
    how = [f"signed for {region}"] if client.signs else []
    if keys is not None:
        how.append(f"with the API key of {region}" if keys.per_region else "with the API key")
    print(f"HTTP {answer.status} ({', '.join(how)})", file=sys.stderr)
    if is_forbidden(answer) and keys is None:
        print(
            f"signed_call: Forbidden: the stack may want an API key too; pass --api-key-file "
            f"FILE or set ${API_KEY_ENV}",
            file=sys.stderr,
        )
    if answer.body.strip():
        try:
            print(json.dumps(answer.json(), indent=2))
        except ValueError:
            print(answer.body.decode("utf-8", errors="replace"))
    if is_wrong_region(answer) and arguments.region:
        print(
            f"signed_call: the endpoint does not serve {arguments.region}; drop --region to "
            "learn its region, or pass the right one",
            file=sys.stderr,
        )
    return 0 if answer.status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
