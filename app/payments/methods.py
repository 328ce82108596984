"""The ways a pledge is paid besides a card: what the ledger and the pledge path branch on.

Any other ``payment_method`` is a card (a gateway payment-method id such as ``pm_card_visa``).
"""

#: Paid at once from the investor's available wallet balance (no gateway call).
WALLET = "wallet"
#: Paid by a bank transfer with the pledge's RF reference, seen on an imported statement.
BANK_TRANSFER = "bank_transfer"

NON_CARD = (WALLET, BANK_TRANSFER)


def is_card(payment_method: str) -> bool:
    return payment_method not in NON_CARD


def refunds_to_wallet(payment_method: str) -> bool:
    """Wallet and bank-transfer money goes back to the wallet; a card's goes back to the card."""
    return payment_method in NON_CARD
