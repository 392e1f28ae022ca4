"""The shapes an offline preview can send the policy packs (`--mode`).

| mode | the program sees | `Analyze` gets | `AnalyzeStack` gets |
|---|---|---|---|
| `preview` | planned outputs (computed ones unknown) | checked inputs | planned outputs, dependencies |
| `update` | known outputs of every property | checked inputs | known outputs, dependencies |
| `inputs` | nothing computed (all unknown) | the raw inputs | the raw inputs, dependencies |
| `outputs-only` | known outputs | nothing | known outputs, no dependencies |

`preview` is what a real `pulumi preview` of a new stack sends (see `engine_shape.py` for the
evidence); `update` is a preview of an already deployed, unchanged stack; `inputs` is the shape
this tool sent before it modelled the engine, kept for comparison; `outputs-only` is the worst
case a pack must survive: states with no Analyze call and no dependency links.
"""

from __future__ import annotations

from typing import Final

PREVIEW: Final[str] = "preview"
UPDATE: Final[str] = "update"
INPUTS: Final[str] = "inputs"
OUTPUTS_ONLY: Final[str] = "outputs-only"
MODES: Final[tuple[str, ...]] = (PREVIEW, UPDATE, INPUTS, OUTPUTS_ONLY)
#: `--mode both`: PREVIEW, then UPDATE, in one run; the report compares their verdicts.
BOTH: Final[str] = "both"


def runs_as_preview(mode: str) -> bool:
    """Whether the program runs as a preview (computed values unknown) in `mode`."""
    return mode in (PREVIEW, INPUTS)
