"""Is a file printable and as designed: closure, winding, thickness, self-intersection, bed fit, features.

May import: core, geometry, foot, prescription, design, mesh, output.
"""
