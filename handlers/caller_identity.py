"""Who is calling: the owner of what a request creates, from API Gateway's own identity fields.

Every route but /health is authorized by API Gateway before Lambda runs: SigV4 (IAM auth), an
API key (a usage plan's `x-api-key`), or both. API Gateway then records who passed in the REST
(v1 proxy) event's `requestContext.identity`, which clients cannot set:

    userArn     the IAM principal that signed the request (SigV4 routes)
    apiKeyId    the id of the API key the request carried (API-key routes)

The owner is built from whichever of the two is present, both when both are (a stack that
requires both): `iam:<principal ARN>`, `apikey:<key id>`, or `iam:<ARN> apikey:<id>`. An
event with neither comes from a route that was deployed without authorization (a
misconfiguration): it is refused, never served as a shared anonymous owner.

Pure: no I/O, no AWS, standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

#: Where API Gateway puts the caller's identity in a REST proxy event.
USER_ARN_FIELD: Final[str] = "requestContext.identity.userArn"
API_KEY_ID_FIELD: Final[str] = "requestContext.identity.apiKeyId"

#: An STS session of an assumed role: arn:<partition>:sts::<account>:assumed-role/<role>/<session>.
_ASSUMED_ROLE_SESSION: Final = re.compile(
    r"^(?P<role>arn:[a-z0-9-]+:sts::[0-9]{12}:assumed-role/[^/]+)/[^/]+\Z"
)
#: Identity values are ARNs and key ids: printable ASCII without spaces. Anything else is not
#: what API Gateway writes there, and a space would make the owner string ambiguous.
_IDENTITY_VALUE: Final = re.compile(r"^[\x21-\x7e]{1,2048}\Z")


class CallerUnidentified(Exception):
    """The event names no caller (or a malformed one); the message says what is missing."""

    def __init__(self, message: str, missing: tuple[str, ...]) -> None:
        super().__init__(message)
        self.missing = missing

    def to_dict(self) -> dict[str, Any]:
        return {"error": "CallerUnidentified", "missing": list(self.missing), "message": str(self)}


@dataclass(frozen=True)
class Caller:
    """The caller of one request: its IAM principal, its API key id, or both."""

    principal: str | None = None
    api_key_id: str | None = None

    @property
    def owner(self) -> str:
        """The owner string stored on what this caller creates and compared on every read."""
        parts = []
        if self.principal is not None:
            parts.append(f"iam:{self.principal}")
        if self.api_key_id is not None:
            parts.append(f"apikey:{self.api_key_id}")
        return " ".join(parts)


def normalize_principal(user_arn: str) -> str:
    """The IAM principal an ARN stands for, as far as ownership goes.

    An assumed role's session ARN, arn:aws:sts::ACCT:assumed-role/ROLE/SESSION, becomes
    arn:aws:sts::ACCT:assumed-role/ROLE: the session name is chosen freely by whoever assumes
    the role (any holder of sts:AssumeRole on it can pick any name), so it is not a security
    boundary. Every session of one role is one owner. Other ARNs (IAM users, federated users)
    are kept as they are.
    """
    session = _ASSUMED_ROLE_SESSION.match(user_arn)
    return session["role"] if session else user_arn


def _value(identity: Mapping[str, Any], name: str, field: str) -> str | None:
    value = identity.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _IDENTITY_VALUE.match(value):
        raise CallerUnidentified(f"{field} is not a valid identity value", (field,))
    return value


def caller_from_event(event: Mapping[str, Any]) -> Caller:
    """The caller of a REST (v1 proxy) event, from requestContext.identity.

    Raises CallerUnidentified when neither userArn (SigV4) nor apiKeyId (API key) is present:
    the route reached the function without authorization, which only a misconfigured stack
    allows, so nothing is created or read on its behalf.
    """
    context = event.get("requestContext")
    identity = context.get("identity") if isinstance(context, Mapping) else None
    if not isinstance(identity, Mapping):
        identity = {}
    user_arn = _value(identity, "userArn", USER_ARN_FIELD)
    api_key_id = _value(identity, "apiKeyId", API_KEY_ID_FIELD)
    if user_arn is None and api_key_id is None:
        raise CallerUnidentified(
            f"The request names no caller: neither {USER_ARN_FIELD} (an IAM principal, "
            f"from SigV4 signing) nor {API_KEY_ID_FIELD} (an API key) is set. This route must "
            "require IAM authorization or an API key.",
            (USER_ARN_FIELD, API_KEY_ID_FIELD),
        )
    principal = normalize_principal(user_arn) if user_arn is not None else None
    return Caller(principal=principal, api_key_id=api_key_id)


def owns(stored_owner: str | None, caller_owner: str, legacy_readable: bool) -> bool:
    """Whether a caller may read an item whose owner attribute is `stored_owner`.

    Items written before owners existed have none: readable by nobody, unless the stack says
    (`legacy_readable`) that such items stay readable by every authorized caller.
    """
    if stored_owner is None:
        return legacy_readable
    return stored_owner == caller_owner


#: The setting that keeps items written before owners existed readable (see `owns`).
LEGACY_UNOWNED_READABLE_VARIABLE: Final[str] = "TASK_LEGACY_UNOWNED_READABLE"


def parse_flag(raw: str | None) -> bool:
    """A true/false environment setting (unset or empty: false).

    ValueError says what is expected; the caller names the variable."""
    text = (raw or "").strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise ValueError(f"must be true or false (unset means false), got {raw!r}")
