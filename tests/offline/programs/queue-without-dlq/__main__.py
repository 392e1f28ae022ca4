"""One defect: besides the skeleton's worker, each region consumes a second work queue that has
no dead-letter queue, so a poison message there is retried until it expires and is then lost."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
assert service.table is not None
for region, deployment in service.regions.items():
    baseline.worker(
        f"audit-{region}",
        region,
        deployment.alarm_topic,
        baseline.table_arn_in(service.table, region),
        baseline.Options(dead_letter_queue=False),
    )
