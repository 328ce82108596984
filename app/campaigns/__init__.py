"""Campaigns: what project owners raise money for, and their funding rounds."""
