"""Load and chaos drills for the task app: `python -m drills load|chaos` (see drills/README.md).

The drills drive the real handler modules. They run against a moto server on 127.0.0.1 by
default (the load drill also against a deployed stack's URL), so the handler folder is put on
the import path the way Lambda's archive root is.
"""

from __future__ import annotations

import sys
from pathlib import Path

HANDLERS_DIR = Path(__file__).resolve().parents[1] / "handlers"
if str(HANDLERS_DIR) not in sys.path:
    sys.path.insert(0, str(HANDLERS_DIR))
