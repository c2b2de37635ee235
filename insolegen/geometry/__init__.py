"""Queries on meshes and surfaces: rays, thickness, crossings, and the measured features of an insole.

May import: core.
"""
