"""A 2D plantar outline to a Foot: outline files (CSV, DXF, SVG) and photos or flatbed
scans of paper tracings.

May import: core, geometry, foot.
"""
