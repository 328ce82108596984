"""Loans: the repayment schedule of a funded round, instalments and their distribution."""
