"""One defect: a function invoked by SNS (asynchronously) has no on-failure destination, so an
event that fails all of Lambda's retries is dropped without a trace."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region in service.regions:
    baseline.sns_subscribed_function(f"events-{region}", region)
    # The defect: no aws.lambda_.FunctionEventInvokeConfig with an on-failure destination.
