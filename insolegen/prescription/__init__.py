"""What the order asks for: parameters with units and ranges, condition profiles, materials.

May import: core.
"""
