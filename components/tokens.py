"""The components' type tokens, and the aliases that keep a deployed stack's resources in place.

Pulumi's multi-language provider puts every component of a package in the `index` module
(`resilient-serverless:index:<Name>`). The components had module tokens before; a stack deployed
with them holds its resources under those. Each component registers an alias from its previous
token, and the engine derives its children's aliases from it, so the new tokens update those
resources instead of replacing them (tests/components/test_type_token_aliases.py).
"""

from typing import Final

import pulumi

PACKAGE: Final[str] = "resilient-serverless"

#: The token each component had before it was hosted for every language.
PREVIOUS_TOKENS: Final[dict[str, str]] = {
    "Function": f"{PACKAGE}:lambda:Function",
    "QueueWorker": f"{PACKAGE}:queue:QueueWorker",
    "RegionalApi": f"{PACKAGE}:api:RegionalApi",
    "GlobalTable": f"{PACKAGE}:dynamodb:GlobalTable",
    "LatencyRouting": f"{PACKAGE}:dns:LatencyRouting",
    "Saga": f"{PACKAGE}:saga:Saga",
    "StreamConsumer": f"{PACKAGE}:stream:StreamConsumer",
    "ActiveActiveService": f"{PACKAGE}:service:ActiveActiveService",
}


def component_type(name: str) -> str:
    """The component's type token, as the provider's schema names it."""
    return f"{PACKAGE}:index:{name}"


def keep_previous_token(name: str, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """`opts` with an alias from the component's previous token (the caller's aliases kept)."""
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=PREVIOUS_TOKENS[name])])
    )
