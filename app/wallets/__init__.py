"""Wallets: each investor's and fund's money on the platform, its bank account, withdrawals."""
