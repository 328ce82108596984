"""The payout lifecycle: ``awaiting_bank_transfer → sent``, by the gateway transfer or by
the operator recording a bank transfer. Nothing else decides."""

from enum import StrEnum

from app.core.lifecycle import IllegalTransition, Lifecycle
from app.settlement.models import PayoutStatus as P

__all__ = ["PAYOUT", "IllegalTransition", "PayoutEvent"]


class PayoutEvent(StrEnum):
    SEND = "send"


PAYOUT = Lifecycle("payout", P, PayoutEvent, {
    (P.AWAITING_BANK_TRANSFER, PayoutEvent.SEND): P.SENT,
}, initial=(P.AWAITING_BANK_TRANSFER,))
