"""The withdrawal lifecycle: ``requested → sent`` (in a payment file) ``→ paid`` (seen on the
statement); ``sent | paid → returned`` (the receiving bank sent it back). Nothing else decides."""

from enum import StrEnum

from app.core.lifecycle import IllegalTransition, Lifecycle
from app.wallets.models import WithdrawalStatus as W

__all__ = ["WITHDRAWAL", "IllegalTransition", "WithdrawalEvent"]


class WithdrawalEvent(StrEnum):
    SEND = "send"
    PAY = "pay"
    RETURN = "return"


WITHDRAWAL = Lifecycle("withdrawal", W, WithdrawalEvent, {
    (W.REQUESTED, WithdrawalEvent.SEND): W.SENT,
    (W.SENT, WithdrawalEvent.PAY): W.PAID,
    (W.SENT, WithdrawalEvent.RETURN): W.RETURNED,
    (W.PAID, WithdrawalEvent.RETURN): W.RETURNED,
}, initial=(W.REQUESTED,))
