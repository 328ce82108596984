"""Disclosures: what regulators and the public may download and read (see ``views`` for the URLs)."""
