"""Every lifecycle's table, walked pair by pair: the table's move comes out, or IllegalTransition."""

from itertools import product
from types import SimpleNamespace

import pytest

from app.campaigns.lifecycle import CAMPAIGN
from app.complaints.lifecycle import COMPLAINT
from app.core.errors import StateConflict
from app.core.lifecycle import IllegalTransition, Lifecycle
from app.investors.lifecycle import CLASSIFICATION_REQUEST
from app.loans.lifecycle import INSTALMENT, LOAN, LoanEvent
from app.loans.models import LoanStatus as L
from app.payments.lifecycle import PLEDGE
from app.settlement.lifecycle import PAYOUT
from app.wallets.lifecycle import WITHDRAWAL

LIFECYCLES = {lc.name: lc for lc in (CAMPAIGN, PLEDGE, LOAN, INSTALMENT, PAYOUT, CLASSIFICATION_REQUEST,
                                             WITHDRAWAL, COMPLAINT)}

PAIRS = [
    pytest.param(lc, status, event, id=f"{name}-{status.value}-{event.value}")
    for name, lc in LIFECYCLES.items()
    for status, event in product(lc.statuses, lc.events)
]


@pytest.mark.parametrize(("lifecycle", "status", "event"), PAIRS)
def test_every_pair_moves_as_the_table_says_or_is_refused(lifecycle: Lifecycle, status, event):
    expected = lifecycle.transitions.get((status, event))
    row = SimpleNamespace(status=status.value)
    if expected is None:
        with pytest.raises(IllegalTransition) as refused:
            lifecycle.move(row, event)
        assert refused.value.status == 409 and isinstance(refused.value, StateConflict)
        assert refused.value.errors == {"status": [f"not allowed from {status.value}"]}
        assert lifecycle.name in refused.value.detail and event.value.replace("_", " ") in refused.value.detail
        assert row.status == status.value  # a refused move leaves the row as it was
    else:
        assert lifecycle.next_status(status.value, event) is expected
        assert lifecycle.move(row, event) is expected
        assert row.status == expected.value and type(row.status) is str


@pytest.mark.parametrize("lifecycle", LIFECYCLES.values(), ids=LIFECYCLES.keys())
def test_every_status_is_initial_or_reachable(lifecycle: Lifecycle):
    reached = set(lifecycle.initial)
    frontier = list(reached)
    while frontier:
        current = frontier.pop()
        for (src, _), dst in lifecycle.transitions.items():
            if src is current and dst not in reached:
                reached.add(dst)
                frontier.append(dst)
    assert reached == set(lifecycle.statuses)


@pytest.mark.parametrize("lifecycle", LIFECYCLES.values(), ids=LIFECYCLES.keys())
def test_sources_and_target_agree_with_the_table(lifecycle: Lifecycle):
    assert {ev for _, ev in lifecycle.transitions} == set(lifecycle.events)  # no event without a move
    for event in lifecycle.events:
        moves = {src: dst for (src, ev), dst in lifecycle.transitions.items() if ev is event}
        assert set(lifecycle.sources(event)) == set(moves)
        assert set(moves.values()) == {lifecycle.target(event)}


def test_an_event_with_two_destinations_is_refused_when_the_table_is_built():
    with pytest.raises(ValueError, match="more than one status"):
        Lifecycle("loan", L, LoanEvent, {
            (L.ACTIVE, LoanEvent.DEFAULT): L.DEFAULTED, (L.OVERDUE, LoanEvent.DEFAULT): L.COMPLETED,
        }, initial=(L.ACTIVE,))


@pytest.mark.parametrize(("lifecycle", "status", "event", "message"), [
    (PLEDGE, "pending_payment", "refund", "A pledge that is pending payment cannot refund."),
    (CAMPAIGN, "draft", "start_repaying", "A campaign that is draft cannot start repaying."),
    (INSTALMENT, "scheduled", "pay", "An instalment that is scheduled cannot pay."),
    (CLASSIFICATION_REQUEST, "approved", "refuse", "A classification request that is approved cannot refuse."),
])
def test_the_refusal_names_the_thing_its_status_and_the_event(lifecycle, status, event, message):
    with pytest.raises(IllegalTransition, match=message):
        lifecycle.next_status(status, lifecycle.events(event))


def test_one_illegal_transition_class_for_the_whole_app():
    from app.campaigns import lifecycle as campaigns
    from app.payments import lifecycle as payments

    assert campaigns.IllegalTransition is payments.IllegalTransition is IllegalTransition
