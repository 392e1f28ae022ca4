"""Who may call the API: IAM (SigV4) by default, or API keys with a usage plan per client.

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
AUTHORIZATION_MODES: Final[tuple[str, ...]] = ("iam", "apiKey")
DEFAULT_AUTHORIZATION: Final[str] = "iam"

#: Client names become parts of resource names and the usage plan's name.
_CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$")


@schema_args
@dataclass(frozen=True)
class ApiClient:
    """One API-key client: its key is created in every region with the same value (latency
    routing may send it to any of them), under a usage plan with its own limits per region."""

    name: str
    """The client's name (2-32 lowercase letters, digits or dashes): names its key and plan."""
    rate_limit: float
    """Steady-state requests per second this client may send to one region."""
    burst_limit: int
    """Requests this client may send at once to one region."""
    quota_per_day: int | None = None
    """Requests per day per region; unset for no quota."""

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
        return found
