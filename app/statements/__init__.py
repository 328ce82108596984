"""Bank statements: importing camt.053 (and, in RU, 1C) statements and reconciling their
lines with bank-transfer pledges and withdrawals. A floor above payments, wallets and loans."""
