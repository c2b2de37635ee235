"""Errors, tolerances and small numeric helpers that every stage uses.

May import: nothing from insolegen.
"""
