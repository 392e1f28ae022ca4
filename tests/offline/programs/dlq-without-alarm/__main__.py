"""One defect: nothing alarms on the dead-letter queue's depth, so failed tasks pile up unseen
until they expire."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

baseline.build(baseline.Options(dlq_alarm=False))
