"""Build plates: a batch's finished insoles nested on FDM beds or packed in powder volumes, 3MF per plate and a manifest to find each part.

May import: core, geometry, foot, prescription, mesh, output, check.
"""
