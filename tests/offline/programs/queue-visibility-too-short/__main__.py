"""One defect: the work queue's visibility timeout (30 s) is shorter than its consumer's timeout
(60 s), so a message still being processed is handed to a second invocation."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

baseline.build(baseline.Options(worker_timeout_s=60, queue_visibility_s=30))
