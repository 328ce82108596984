"""The pledge state machine: one table, illegal moves raise."""

import pytest

from app.payments.lifecycle import TRANSITIONS, Event, IllegalTransition, next_status, target
from app.payments.models import PledgeStatus as S

ALLOWED = {
    (S.PENDING_PAYMENT, Event.PAY): S.PAID,
    (S.PENDING_PAYMENT, Event.FAIL): S.FAILED,
    (S.PENDING_PAYMENT, Event.EXPIRE): S.EXPIRED,
    (S.PAID, Event.REVOKE): S.REVOKED,
    (S.PAID, Event.REFUND): S.REFUNDED,
    (S.REVOKED, Event.REFUND): S.REFUNDED,
    (S.PAID, Event.SETTLE): S.SETTLED,
}


def test_the_table_is_exactly_the_documented_one():
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("event", list(Event))
def test_every_other_move_is_refused(status, event):
    if (status, event) in ALLOWED:
        assert next_status(status.value, event) is ALLOWED[(status, event)]
        assert target(event) is ALLOWED[(status, event)]
    else:
        with pytest.raises(IllegalTransition):
            next_status(status.value, event)
