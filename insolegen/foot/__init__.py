"""What we know about a foot: shoe sizes, measurements, the outline template and the Foot value with its landmarks.

May import: core, geometry.
"""
