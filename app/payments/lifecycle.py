"""The pledge lifecycle: one table of allowed transitions, nothing else decides.

``pending_payment → paid | failed | expired``; ``paid → revoked → refunded``,
``paid → refunded`` (a failed or cancelled round) and ``paid → settled`` (paid out).
The services apply a transition with a conditional UPDATE on the current status, so two
processes racing on one pledge cannot both win.
"""

from enum import StrEnum

from app.core.errors import StateConflict
from app.payments.models import PledgeStatus as S


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


class IllegalTransition(StateConflict):
    title = "Illegal state transition"


def sources(event: Event) -> tuple[S, ...]:
    """The statuses ``event`` may leave from (for the conditional UPDATE's WHERE)."""
    return tuple(src for (src, ev) in TRANSITIONS if ev is event)


def target(event: Event) -> S:
    """Where ``event`` leads (each event has one destination, whatever its source)."""
    (destination,) = {dst for (_, ev), dst in TRANSITIONS.items() if ev is event}
    return destination


def next_status(current: str, event: Event) -> S:
    """The status after ``event``, or IllegalTransition (a 409) if the table forbids it."""
    try:
        return TRANSITIONS[(S(current), event)]
    except KeyError:
        raise IllegalTransition(
            f"A pledge that is {current.replace('_', ' ')} cannot {event.value}.",
            {"status": [f"not allowed from {current}"]},
        ) from None
