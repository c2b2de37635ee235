"""Device bases (styles), installed as the data package ``insolegen.base_data``."""
