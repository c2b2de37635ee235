"""The longer run of the whole-order fuzz (tests/hostile/test_fuzz_orders.py): random
orders each run, as many as asked, through the command line; the oracle is the promise
(exit 0 with a valid measured pair, or exit 2 with one line and nothing written).

    python benchmarks/fuzz_orders.py --examples 500     # about 1 s an order

A failure prints the order (hypothesis' note) and a blob to reproduce it with
``@reproduce_failure``; the exit status is pytest's (0: every order kept the promise).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="orders to draw")
    args = parser.parse_args()
    os.environ["INSOLEGEN_FUZZ_EXAMPLES"] = str(args.examples)
    os.environ["INSOLEGEN_FUZZ_RANDOM"] = "1"
    import pytest
    return pytest.main(["-q", "-p", "no:cacheprovider", "-n", "0", "--rootdir", str(ROOT),
                        str(ROOT / "tests" / "hostile" / "test_fuzz_orders.py")])


if __name__ == "__main__":
    sys.exit(main())
