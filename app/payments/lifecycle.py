"""The pledge lifecycle: one table of allowed transitions, nothing else decides.

``pending_payment → paid | failed | expired``; ``paid → revoked → refunded``,
``paid → refunded`` (a failed or cancelled round) and ``paid → settled`` (paid out).
The services apply a transition with a conditional UPDATE on the current status, so two
processes racing on one pledge cannot both win.
"""

from enum import StrEnum

from app.core.lifecycle import IllegalTransition, Lifecycle
from app.payments.models import PledgeStatus as S

__all__ = ["PLEDGE", "TRANSITIONS", "Event", "IllegalTransition", "next_status", "sources", "target"]


class Event(StrEnum):
    PAY = "pay"
    FAIL = "fail"
    EXPIRE = "expire"
    REVOKE = "revoke"
    REFUND = "refund"
    SETTLE = "settle"


TRANSITIONS: dict[tuple[S, Event], S] = {
    (S.PENDING_PAYMENT, Event.PAY): S.PAID,
    (S.PENDING_PAYMENT, Event.FAIL): S.FAILED,
    (S.PENDING_PAYMENT, Event.EXPIRE): S.EXPIRED,
    (S.PAID, Event.REVOKE): S.REVOKED,
    (S.PAID, Event.REFUND): S.REFUNDED,
    (S.REVOKED, Event.REFUND): S.REFUNDED,
    (S.PAID, Event.SETTLE): S.SETTLED,
}

PLEDGE = Lifecycle("pledge", S, Event, TRANSITIONS, initial=(S.PENDING_PAYMENT,))

next_status = PLEDGE.next_status
sources = PLEDGE.sources
target = PLEDGE.target
