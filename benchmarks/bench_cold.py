"""Cold start: one ``insolegen generate`` of one insole against a floor, both cold processes.

The floor is a cold Python that reads and rewrites the same insole's triangles
with numpy-stl (the least any tool that writes this STL must pay: interpreter,
numpy, numpy-stl, the file). Each command runs ``--repeat`` times, alternating,
and the medians are compared. Target (issue 10): ratio at most 3 on an idle
machine. Also times ``insolegen --help`` and a bad-input error, which must
stay near the bare interpreter. The package is byte-compiled first, as ``pip install``
compiles an installed package: where ``PYTHONDONTWRITEBYTECODE`` is set an editable
install never writes its ``.pyc`` files and would pay about 85 ms of compiling on every
start, which the floor (numpy-stl, compiled on install) does not.

    python benchmarks/bench_cold.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = ("import sys; from stl.mesh import Mesh; m = Mesh.from_file(sys.argv[1]); "
         "m.save(sys.argv[2])")


def _time(cmd: list[str], ok: tuple[int, ...] = (0,)) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise SystemExit(f"{cmd}: exit {proc.returncode}\n{proc.stderr.decode()}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    cli = [sys.executable, "-m", "insolegen"]
    import insolegen
    compileall.compile_dir(Path(insolegen.__file__).parent, quiet=1)
    print(f"package byte-compiled first (PYTHONDONTWRITEBYTECODE="
          f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r} here)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gen = [*cli, "generate", "--foot-length", "265", "--condition", "flat_feet",
               "--side", "right", "--id", "cold", "--force", "--out", str(tmp / "out")]
        _time(gen)  # warm the OS file cache once; every timed run is still a new process
        stl = tmp / "out" / "cold_right.stl"
        floor_cmd = [sys.executable, "-c", FLOOR, str(stl), str(tmp / "copy.stl")]
        bare = [sys.executable, "-c", "pass"]
        runs: dict[str, list[float]] = {"floor": [], "generate": [], "help": [], "bad": [],
                                        "python": []}
        for _ in range(args.repeat):
            runs["floor"].append(_time(floor_cmd))
            runs["generate"].append(_time(gen))
            runs["help"].append(_time([*cli, "--help"]))
            runs["bad"].append(_time([*cli, "generate", "--foot-length", "-3", "--condition",
                                      "neutral", "--out", str(tmp / "bad")], ok=(2,)))
            runs["python"].append(_time(bare))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"floor (cold python + numpy-stl read/write of the insole): {med['floor']:.3f} s")
    print(f"cold insolegen generate, one insole:                      {med['generate']:.3f} s"
          f"  ratio {med['generate'] / med['floor']:.2f} (target <= 3)")
    print(f"insolegen --help:                                         {med['help']:.3f} s"
          f"  ratio {med['help'] / med['floor']:.2f}")
    print(f"bad input (exit 2):                                       {med['bad']:.3f} s"
          f"  ratio {med['bad'] / med['floor']:.2f}")
    print(f"bare python -c pass:                                      {med['python']:.3f} s")


if __name__ == "__main__":
    main()
