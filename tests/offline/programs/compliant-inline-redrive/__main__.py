"""Compliant, written differently: the DLQ attached by the queue's inline `redrivePolicy` JSON
(unknown as a whole at preview; the link to the DLQ is in its property dependencies)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

baseline.build(baseline.Options(inline_redrive=True))
