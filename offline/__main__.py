"""Entry point: `python -m offline preview --cwd DIR --stack NAME ...`."""

from offline.cli import main

raise SystemExit(main())
