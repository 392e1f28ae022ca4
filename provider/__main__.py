"""Serve the components to a Pulumi program in any language (the engine starts this).

The schema is inferred from the components themselves (`resilient_serverless.hosting`, the SDK's
`pulumi.provider.experimental` component provider, as `component_provider_host` serves it); a
program constructs them through this provider with its inputs as another language sends them.
"""

import sys

from pulumi.provider import main
from resilient_serverless.hosting import component_provider

if __name__ == "__main__":
    # The engine passes the engine's address (and flags such as --logtostderr).
    main(component_provider(), sys.argv[1:])
