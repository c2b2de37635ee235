"""Many orders: the orders file, validation, the process pool or Dask workers, the output folder and manifest.

May import: pipeline and every stage below it, and plates.
"""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("run_batch", "BatchResult"):
        from insolegen.batch import run
        return getattr(run, name)
    raise AttributeError(name)
