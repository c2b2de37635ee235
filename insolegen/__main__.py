"""``python -m insolegen ARGS`` is ``insolegen ARGS``."""

from insolegen.cli.main import main

raise SystemExit(main())
