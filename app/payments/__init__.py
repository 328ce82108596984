"""Payments: pledges, the gateways, the double-entry ledger."""
