"""One defect: a two-step saga in Step Functions, logged and traced, whose second step retries
but catches nothing, so when it finally fails the first step's hold is never released.

The definition is plain JSON over the table's name, which the program chooses: known in every
shape, so the pack reads the definition at preview."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples
import saga

service = baseline.build()
for region in service.regions:
    parts = saga.parts(region)
    # The definition is text over the table's name, which the program chose: known at preview.
    saga.state_machine(region, parts, saga.without_catch(parts.table_name))
