"""Entry point: `python -m offline preview --cwd DIR --stack NAME ...`."""

from .cli import main

raise SystemExit(main())
