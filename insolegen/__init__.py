"""insolegen: custom orthotic insoles from a foot and a condition.

The pipeline (docs/architecture.md): Foot -> Prescription -> InsoleDesign ->
solid -> files, one subpackage per stage. The public API is re-exported here
and imported on first use, so ``import insolegen`` stays cheap:

- :func:`generate` (one order to files), :func:`render` (to bytes in memory),
  :func:`run_batch` (an orders file to a folder with a manifest);
- :func:`order_from_mapping` and :class:`Order` (an order's fields, validated);
- the values between stages: :class:`Foot`, :class:`Prescription`,
  :class:`InsoleDesign`, and their makers :func:`foot_from_measurements`,
  :func:`foot_from_scan` (:func:`feet_from_scan` for a file of both feet),
  :func:`foot_from_outline`, :func:`prescribe`, :func:`design_insole`;
- the errors: :class:`InsolegenError` and its kinds.
"""

from __future__ import annotations

import importlib
import logging

from insolegen.core.errors import InputError, InsolegenError, OutputError, ProfileError, ScanError

__version__ = "0.1.0"

logging.getLogger("insolegen").addHandler(logging.NullHandler())

_LAZY = {
    "generate": "insolegen.pipeline.job", "render": "insolegen.pipeline.job",
    "Result": "insolegen.pipeline.job",
    "run_batch": "insolegen.batch.run", "BatchResult": "insolegen.batch.run",
    "Order": "insolegen.pipeline.order", "order_from_mapping": "insolegen.pipeline.order",
    "Foot": "insolegen.foot.model", "foot_from_measurements": "insolegen.foot.measurements",
    "foot_from_scan": "insolegen.scan.read", "feet_from_scan": "insolegen.scan.read",
    "foot_from_outline": "insolegen.tracing.read",
    "Prescription": "insolegen.prescription.profiles", "prescribe": "insolegen.prescription.profiles",
    "InsoleDesign": "insolegen.design.model", "design_insole": "insolegen.design.model",
}

__all__ = ["InputError", "InsolegenError", "OutputError", "ProfileError", "ScanError",
           "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'insolegen' has no attribute {name!r}")
