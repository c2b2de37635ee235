"""Sample foot scans shipped with insolegen (see README.md here for sources and licences)."""
