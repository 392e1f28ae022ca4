"""One defect: the SQS event source mapping does not report batch item failures, so one failed
message makes the whole batch visible again (and retried)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

baseline.build(baseline.Options(report_batch_item_failures=False))
