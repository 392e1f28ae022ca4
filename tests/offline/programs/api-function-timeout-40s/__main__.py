"""One defect: the API function runs up to 40 s behind API Gateway's 29 s integration timeout, so
clients get a 504 while the function keeps working (and paying)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

baseline.build(baseline.Options(api_timeout_s=40))
