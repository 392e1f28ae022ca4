"""One defect: the latency records have no health check, so Route53 keeps sending clients to a
region that is down."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

baseline.build(baseline.Options(health_checks=False))
