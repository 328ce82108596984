"""Investors: citizens and funds, their profiles, classification and limits."""
