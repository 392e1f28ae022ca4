"""One defect: a Kinesis consumer that survives poison records (bisect, bounded retries and
record age, an alarmed on-failure queue) but whose iterator age nobody watches, so a failing or
slow consumer falls behind unnoticed until its records are skipped or expire."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region, deployment in service.regions.items():
    # The defect: no alarm on IteratorAge (or GetRecords.IteratorAgeMilliseconds).
    baseline.guarded_stream_consumer(f"events-{region}", region, deployment.alarm_topic)
