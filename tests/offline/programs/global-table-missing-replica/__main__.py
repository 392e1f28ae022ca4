"""One defect: the stack serves from two regions but the DynamoDB table has no replica in the
second one, so that region's functions read and write across the ocean (and fail with it)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

baseline.build(baseline.Options(table_replica_regions=[]))
