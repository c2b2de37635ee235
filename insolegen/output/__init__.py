"""Solids to files: STL, 3MF, OBJ, the preview PNG, the PDF job ticket, atomic writing.

May import: core, geometry, foot, prescription, design, mesh.
"""
