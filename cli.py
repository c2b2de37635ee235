"""The repository's command line: ``python cli.py ARGS`` is ``insolegen ARGS`` (see insolegen.cli)."""

from insolegen.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
