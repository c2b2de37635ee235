"""Foot + Prescription to an InsoleDesign: every number resolved, the plan and the surfaces as height fields.

May import: core, geometry, foot, prescription.
"""
