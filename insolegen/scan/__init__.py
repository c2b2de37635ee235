"""A 3D scan file to a Foot: load, clean, align, measure, plantar height map.

May import: core, geometry, foot.
"""
