"""insolegen: custom orthotic insoles from a foot and a condition.

The pipeline (DESIGN.md): Foot -> Prescription -> InsoleDesign -> Solid -> files.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger("insolegen").addHandler(logging.NullHandler())
