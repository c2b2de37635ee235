"""An InsoleDesign to closed solids: top and bottom over the plan, walls, engraving.

May import: core, geometry, foot, prescription, design.
"""
