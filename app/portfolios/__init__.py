"""Portfolios: holdings, cash flows, XIRR, allocation, impact, charts and exports."""
