"""Condition profiles, installed as the data package ``insolegen.profile_data``."""
