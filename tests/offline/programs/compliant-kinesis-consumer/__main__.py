"""Compliant, with a stream consumer: the Kinesis mapping bisects a failing batch, retries a
bounded number of times, bounds the record age and parks what it skips in an alarmed queue; an
alarm on the stream's iterator age says when the consumer falls behind."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region, deployment in service.regions.items():
    stream, _ = baseline.guarded_stream_consumer(f"events-{region}", region, deployment.alarm_topic)
    # Watched on the stream's side (the components watch the function's IteratorAge instead).
    baseline.iterator_age_alarm(
        f"events-{region}-iterator-age", region, deployment.alarm_topic, stream=stream
    )
