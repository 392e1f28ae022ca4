"""Who may call the API: IAM (SigV4) by default, API keys with a usage plan per client, or both.

Kept apart from the API component so that the stack settings (which validate the config) and the
API (which builds the methods, keys and usage plans) read one definition.
"""

import re
from dataclasses import dataclass
from typing import Final

from .inputs import schema_args

#: `iam`: every route but the health check needs a SigV4 signature allowed `execute-api:Invoke`.
#: `apiKey`: every route but the health check needs an `x-api-key` of a configured client, whose
#: usage plan sets its own rate, burst and daily quota.
#: `iam+apiKey`: both at once: a signature allowed `execute-api:Invoke` AND the `x-api-key` of a
#: configured client (a key alone, read by anyone with apigateway:GET, admits nobody; a signature
#: alone gets no usage plan).
AUTHORIZATION_MODES: Final[tuple[str, ...]] = ("iam", "apiKey", "iam+apiKey")
DEFAULT_AUTHORIZATION: Final[str] = "iam"


def uses_signatures(mode: str) -> bool:
    """Whether `mode` makes callers sign (the methods' authorization is AWS_IAM)."""
    return mode in ("iam", "iam+apiKey")


def uses_api_keys(mode: str) -> bool:
    """Whether `mode` makes callers send a client's `x-api-key` (api_key_required)."""
    return mode in ("apiKey", "iam+apiKey")


#: Client names become parts of resource names and the usage plan's name.
_CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$")


@schema_args
@dataclass(frozen=True)
class ApiClient:
    """One API-key client: its key is created in every region, under a usage plan with its own
    limits per region. Each region's key has its own value (API Gateway generates it), so a value
    read in one region admits nobody in another; `shared_across_regions` gives every region the
    value of the first region's key instead (a client that cannot tell regions apart)."""

    name: str
    """The client's name (2-32 lowercase letters, digits or dashes): names its key and plan."""
    rate_limit: float
    """Steady-state requests per second this client may send to one region."""
    burst_limit: int
    """Requests this client may send at once to one region."""
    quota_per_day: int | None = None
    """Requests per day per region; unset for no quota."""
    shared_across_regions: bool = False
    """One value in every region (the table region's key's value, copied to the other regions'
    keys) instead of a value per region. Off by default: a leaked value then works in one region
    only, and rotating one region's key leaves the others alone."""

    def problems(self, where: str) -> list[str]:
        """What is wrong with this client, each naming the field under `where`."""
        found: list[str] = []
        if not _CLIENT_NAME.match(self.name):
            found.append(
                f"{where}.name: {self.name!r} must be 2-32 lowercase letters, digits or dashes "
                "(it names the client's key and usage plan)."
            )
        if not self.rate_limit > 0:
            found.append(f"{where}.rateLimit: {self.rate_limit} must be positive.")
        if not self.burst_limit >= 1:
            found.append(f"{where}.burstLimit: {self.burst_limit} must be at least 1.")
        if self.quota_per_day is not None and not self.quota_per_day >= 1:
            found.append(
                f"{where}.quotaPerDay: {self.quota_per_day} must be at least 1, or left out for "
                "no quota."
            )
        if not isinstance(self.shared_across_regions, bool):
            found.append(
                f"{where}.sharedAcrossRegions: {self.shared_across_regions!r} must be true or "
                "false (true: one key value in every region; false, the default: a value per "
                "region)."
            )
        return found
