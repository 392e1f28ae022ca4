"""API Gateway in front of a region's API function, locally: IAM (SigV4) authorization on every
route but GET /health, as the stack configures it, with API Gateway's 403 answers; and, given
client keys (`apiAuthorization: iam+apiKey`), a known `x-api-key` on those routes too, checked
after the signature as API Gateway does, a missing or unknown one answered 403 Forbidden.

A signature is checked for real: it is computed again with botocore for the known credentials,
from the request as received (method, path, query, the headers it lists as signed, the body)
and its own X-Amz-Date, and compared with the one sent. What API Gateway checks beyond that
(execute-api:Invoke in the caller's IAM policies, STS-issued tokens) has no local counterpart:
a request signed with the drill's credentials is allowed.

What passed is recorded as API Gateway records it, in the event's `requestContext.identity`
(which clients cannot set): `userArn` of the principal that signed (the drill's credentials
stand for `DRILL_PRINCIPAL_ARN`), `apiKey` and `apiKeyId` of the key sent on a protected route.
The handlers make the caller the owner of what it creates from these.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tools.signed_call import API_KEY_HEADER, FORBIDDEN_MESSAGE, SERVICE, HttpAnswer, Transport

from .containers import ContainerError, api_event
from .local_aws import CREDENTIALS

#: The drills' API as clients call it: the host and stage `containers.api_event` describes.
BASE_URL: Final[str] = "https://drill.example.com/v1"
#: The credentials the drill's clients sign with, and the only ones the gateway knows.
DRILL_CREDENTIALS: Final = Credentials(
    CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"]
)
#: The principal the drill's credentials stand for (an IAM user of moto's default account).
DRILL_PRINCIPAL_ARN: Final[str] = "arn:aws:iam::123456789012:user/drill"
#: The one route left open (Route53's health checkers cannot sign).
OPEN_ROUTES: Final[frozenset[tuple[str, str]]] = frozenset({("GET", "/health")})
#: How far X-Amz-Date may lie from the gateway's clock (SigV4's limit).
MAX_SKEW: Final = timedelta(minutes=5)
_AMZ_DATE: Final[str] = "%Y%m%dT%H%M%SZ"
SIGNATURE_MISMATCH: Final[str] = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)

#: Invokes the API function with an API Gateway proxy event; returns its proxy result.
Backend = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Denial:
    """API Gateway's answer to a request it does not pass on."""

    error_type: str
    message: str
    status: int = 403

    def answer(self) -> HttpAnswer:
        return HttpAnswer(
            self.status,
            {"content-type": "application/json", "x-amzn-errortype": self.error_type},
            json.dumps({"message": self.message}).encode(),
        )


def _authorization_parameters(value: str) -> dict[str, str] | None:
    algorithm, _, rest = value.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        return None
    parameters: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, text = part.strip().partition("=")
        if equals:
            parameters[name] = text
    return parameters


def check_signature(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    region: str,
    known: Sequence[Credentials],
    now: datetime,
) -> Denial | None:
    """None when the request carries a valid SigV4 signature for `execute-api` in `region`
    by one of the `known` credentials; else API Gateway's 403 for what is wrong."""
    lower = {key.lower(): value for key, value in headers.items()}
    authorization = lower.get("authorization")
    if not authorization:
        return Denial("MissingAuthenticationTokenException", "Missing Authentication Token")
    parameters = _authorization_parameters(authorization)
    if parameters is None:
        return Denial(
            "IncompleteSignatureException",
            f"Authorization header requires the AWS4-HMAC-SHA256 algorithm, got "
            f"'{authorization.partition(' ')[0]}'.",
        )
    missing = [
        name for name in ("Credential", "Signature", "SignedHeaders") if name not in parameters
    ]
    if missing:
        return Denial(
            "IncompleteSignatureException",
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing),
        )
    amz_date = lower.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        return Denial(
            "IncompleteSignatureException",
            "Authorization header requires existence of a valid 'X-Amz-Date' header.",
        )
    scope = parameters["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return Denial(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{parameters['Credential']}'",
        )
    access_key, scope_date, scope_region, scope_service, _ = scope
    credentials = next((c for c in known if c.access_key == access_key), None)
    if credentials is None or lower.get("x-amz-security-token") != credentials.token:
        return Denial(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if scope_service != SERVICE:
        return Denial(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SERVICE}'. ",
        )
    if scope_region != region:
        return Denial(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{scope_region}'. ",
        )
    if scope_date != amz_date[:8]:
        return Denial(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    if abs(now - signed_at) > MAX_SKEW:
        return Denial(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} - 5 min.)"
            if signed_at < now
            else f"Signature not yet current: {amz_date} is still later than "
            f"{(now + MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} + 5 min.)",
        )
    if not _signature_matches(method, url, lower, body, parameters, credentials, region, amz_date):
        return Denial("InvalidSignatureException", SIGNATURE_MISMATCH)
    return None


def _signature_matches(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    parameters: Mapping[str, str],
    credentials: Credentials,
    region: str,
    amz_date: str,
) -> bool:
    """Sign the request as received again, with botocore, and compare."""
    signed_names = parameters["SignedHeaders"].split(";")
    if "host" not in signed_names or any(name not in headers for name in signed_names):
        return False
    claimed_hash = headers.get("x-amz-content-sha256")
    if claimed_hash is not None and claimed_hash != hashlib.sha256(body or b"").hexdigest():
        return False  # the body is not the one the signature covers
    request = AWSRequest(
        method=method,
        url=url,
        data=body or b"",
        headers={name: headers[name] for name in signed_names},
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(credentials, SERVICE, region)
    # The header list is part of what is signed; a header botocore never signs (User-Agent)
    # listed by the client makes the lists, and so the signatures, differ.
    if signer.signed_headers(signer.headers_to_sign(request)) != parameters["SignedHeaders"]:
        return False
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return hmac.compare_digest(expected, parameters["Signature"])


def check_api_key(headers: Mapping[str, str], keys: Collection[str]) -> Denial | None:
    """None when the request's `x-api-key` is one of `keys` (the enabled keys of the stage's
    usage plans); else API Gateway's 403, which says no more than Forbidden."""
    sent = {key.lower(): value for key, value in headers.items()}.get(API_KEY_HEADER)
    if sent is not None and any(hmac.compare_digest(sent, key) for key in keys):
        return None
    return Denial("ForbiddenException", FORBIDDEN_MESSAGE)


class LocalGateway:
    """One region's API behind IAM authorization. `transport(backend)` is what a signed client
    sends its requests through; `backend` invokes an API container. `api_keys`: the clients'
    key values in this region; given any, every route but the open ones needs one of them in
    `x-api-key` as well as a signature (`iam+apiKey`)."""

    def __init__(
        self,
        region: str,
        *,
        base_url: str = BASE_URL,
        known: Sequence[Credentials] = (DRILL_CREDENTIALS,),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        api_keys: Collection[str] = (),
        principals: Mapping[str, str] | None = None,
    ) -> None:
        self.region = region
        self.base_path = urlsplit(base_url).path.rstrip("/")
        self.known = tuple(known)
        self.clock = clock
        self.api_keys = frozenset(api_keys)
        #: Access key id -> the ARN of the principal it belongs to (`userArn`); by default the
        #: drill's user for its credentials, a user named after the access key for others.
        self.principals = dict(
            principals
            if principals is not None
            else {
                each.access_key: DRILL_PRINCIPAL_ARN
                if each.access_key == DRILL_CREDENTIALS.access_key
                else f"arn:aws:iam::123456789012:user/{each.access_key}"
                for each in self.known
            }
        )
        #: Requests refused, by API Gateway error type.
        self.denied: dict[str, int] = {}

    def route(self, url: str) -> str | None:
        """The API's route path for `url` (the stage's path stripped), or None if not ours."""
        path = urlsplit(url).path
        if path != self.base_path and not path.startswith(self.base_path + "/"):
            return None
        return path[len(self.base_path) :] or "/"

    def authorize(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Denial | None:
        path = self.route(url)
        if path is None:
            return Denial("MissingAuthenticationTokenException", "Missing Authentication Token")
        if (method, path) in OPEN_ROUTES:
            return None
        denial = check_signature(
            method, url, headers, body, region=self.region, known=self.known, now=self.clock()
        )
        if denial is not None or not self.api_keys:
            return denial
        return check_api_key(headers, self.api_keys)

    def handle(
        self,
        backend: Backend,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> HttpAnswer:
        denial = self.authorize(method, url, headers, body)
        if denial is not None:
            self.denied[denial.error_type] = self.denied.get(denial.error_type, 0) + 1
            return denial.answer()
        path = self.route(url) or "/"
        text = None if body is None else body.decode("utf-8", errors="surrogateescape")
        event = api_event(method, path, text, dict(headers))
        if (method, path) not in OPEN_ROUTES:
            event["requestContext"]["identity"] = self.identity(headers)
        try:
            result = backend(event)
        except ContainerError:
            return Denial("InternalServerErrorException", "Internal server error", 502).answer()
        # A proxy result may set headers in either field; API Gateway sends both.
        answer_headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            answer_headers[str(key).lower()] = ", ".join(str(value) for value in values)
        return HttpAnswer(
            int(result["statusCode"]), answer_headers, str(result.get("body") or "").encode()
        )

    def requires_api_key(self) -> bool:
        """Whether the protected routes need an `x-api-key` (client keys were given)."""
        return bool(self.api_keys)

    def identity(self, headers: Mapping[str, str]) -> dict[str, str | None]:
        """`requestContext.identity` of an authorized request: who signed it (`userArn`, from
        the access key of its credential scope) and, where keys are required, the key it carried
        (`apiKeyId`, an id derived from the value, as stable as API Gateway's)."""
        lower = {key.lower(): value for key, value in headers.items()}
        parameters = _authorization_parameters(lower.get("authorization", "")) or {}
        access_key = parameters.get("Credential", "").split("/")[0] or None
        # API Gateway fills the key fields only on methods that require a key.
        key = lower.get(API_KEY_HEADER) if self.requires_api_key() else None
        return {
            "accessKey": access_key,
            "userArn": self.principals.get(access_key or ""),
            "apiKey": key,
            "apiKeyId": hashlib.sha256(key.encode()).hexdigest()[:10] if key else None,
        }

    def transport(self, backend: Backend) -> Transport:
        def send(
            method: str, url: str, headers: Mapping[str, str], body: bytes | None
        ) -> HttpAnswer:
            return self.handle(backend, method, url, headers, body)

        return send
