"""Compliant: the shared skeleton as it is (the DLQ attached by a standalone
aws.sqs.RedrivePolicy)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

baseline.build()
