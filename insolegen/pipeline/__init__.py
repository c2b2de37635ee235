"""One order through every stage: the Order value, render (bytes in memory) and generate (files on disk).

May import: every stage above; nothing imports it but batch and the front doors.
"""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("generate", "render", "Result", "Rendered", "design_for", "foot_for"):
        from insolegen.pipeline import job
        return getattr(job, name)
    raise AttributeError(name)
