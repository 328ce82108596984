"""An owner pays an instalment: claim, commit, charge, record — once, whatever fails in between."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core.errors import StateConflict
from app.extensions import db
from app.loans import services as loans
from app.loans.models import Instalment
from app.payments import ledger
from app.payments.errors import PaymentDeclined
from app.payments.gateways.base import GatewayError
from tests.loans.conftest import due_instalment


def received_transactions(instalment: Instalment) -> int:
    return db.session.scalar(select(func.count()).select_from(ledger.LedgerTransaction).where(
        ledger.LedgerTransaction.idempotency_key == f"instalment-{instalment.id}-received"))


def charges(sandbox) -> list[str]:
    return [key for method, key in sandbox.calls if method == "charge" and key.startswith("instalment-")]


def claim_of(instalment: Instalment) -> tuple:
    db.session.expire_all()
    row = db.session.get(Instalment, instalment.id)
    return row.charge_key, row.charge_payment_method, row.charge_started_at


def test_a_paid_instalment_is_distributed_and_its_claim_cleared(sandbox):
    instalment = due_instalment()
    now = instalment.due_at + timedelta(days=1)
    loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt="a")
    db.session.expire_all()
    assert instalment.status == "paid" and instalment.loan.status == "active"
    assert instalment.payment_reference.startswith("pi_sbx_")
    assert claim_of(instalment) == (None, None, None)
    assert charges(sandbox) == [f"instalment-{instalment.id}-charge-a"]
    assert received_transactions(instalment) == 1
    with pytest.raises(StateConflict, match="already paid"):
        loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt="b")
    assert sandbox.charges_made == 2  # the pledge and this instalment, nothing more


def test_a_second_attempt_while_one_is_in_flight_is_refused_without_a_charge(sandbox):
    instalment = due_instalment()
    now = instalment.due_at + timedelta(days=1)
    instalment.charge_key, instalment.charge_payment_method = f"instalment-{instalment.id}-charge-a", "pm_card_visa"
    instalment.charge_started_at = now - timedelta(minutes=9)
    db.session.commit()
    with pytest.raises(StateConflict, match="A payment of this instalment is in progress") as refused:
        loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt="b")
    assert refused.value.status == 409
    assert charges(sandbox) == []
    assert claim_of(instalment)[0] == f"instalment-{instalment.id}-charge-a"


def test_a_crash_between_charge_and_record_is_re_driven_with_the_same_key_and_pays_once(sandbox, monkeypatch):
    instalment = due_instalment()
    now = instalment.due_at + timedelta(days=1)
    first_key = f"instalment-{instalment.id}-charge-a"
    receive = loans.receive

    def crash(*args, **kwargs):
        raise RuntimeError("killed while recording")

    monkeypatch.setattr(loans, "receive", crash)
    monkeypatch.setattr(loans, "_release", lambda claim: db.session.rollback())  # a dead process releases nothing
    with pytest.raises(RuntimeError):
        loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt="a")
    monkeypatch.setattr(loans, "receive", receive)
    assert sandbox.charges_made == 2 and claim_of(instalment)[0] == first_key
    db.session.expire_all()
    assert instalment.status == "due" and received_transactions(instalment) == 0

    with pytest.raises(StateConflict, match="in progress"):  # not stale yet
        loans.pay_instalment(instalment, payment_method="pm_card_mastercard", now=now + timedelta(minutes=5),
                             attempt="b")
    loans.pay_instalment(instalment, payment_method="pm_card_mastercard", now=now + timedelta(minutes=11),
                         attempt="b")
    db.session.expire_all()
    assert instalment.status == "paid" and claim_of(instalment) == (None, None, None)
    assert charges(sandbox) == [first_key, first_key]  # the stale key repeated; no charge in the new name
    assert sandbox.charges_made == 2  # the pledge and this instalment: the repeat was a replay
    assert received_transactions(instalment) == 1
    (holder,) = loans.holders(instalment.loan.campaign_id)
    assert ledger.balance(ledger.investor_funds("EUR", user_id=holder.investor_id)) == instalment.total


def test_a_failure_while_recording_leaves_the_key_for_the_next_attempt_at_once(sandbox, monkeypatch):
    instalment = due_instalment()
    now = instalment.due_at + timedelta(days=1)
    first_key = f"instalment-{instalment.id}-charge-a"
    receive = loans.receive
    monkeypatch.setattr(loans, "receive", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("database hiccup")))
    with pytest.raises(RuntimeError):
        loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt="a")
    monkeypatch.setattr(loans, "receive", receive)
    assert claim_of(instalment) == (first_key, "pm_card_visa", None)  # released: no attempt in flight
    loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt="b")
    db.session.expire_all()
    assert instalment.status == "paid"
    assert charges(sandbox) == [first_key, first_key] and sandbox.charges_made == 2
    assert received_transactions(instalment) == 1


def test_an_unreachable_gateway_leaves_the_key_to_be_repeated(sandbox):
    instalment = due_instalment()
    now = instalment.due_at + timedelta(days=1)
    sandbox.fail_next = GatewayError("timed out")
    with pytest.raises(GatewayError):
        loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt="a")
    assert claim_of(instalment)[:2] == (f"instalment-{instalment.id}-charge-a", "pm_card_visa")
    loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt="b")
    db.session.expire_all()
    assert instalment.status == "paid" and sandbox.charges_made == 2
    assert charges(sandbox) == [f"instalment-{instalment.id}-charge-a"] * 2


def test_a_declined_card_leaves_the_instalment_due_and_a_new_attempt_pays(sandbox):
    instalment = due_instalment()
    now = instalment.due_at + timedelta(days=1)
    with pytest.raises(PaymentDeclined) as declined:
        loans.pay_instalment(instalment, payment_method="pm_card_chargeDeclined", now=now, attempt="a")
    assert declined.value.status == 402
    db.session.expire_all()
    assert instalment.status == "due" and claim_of(instalment) == (None, None, None)
    assert received_transactions(instalment) == 0
    loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt="b")
    db.session.expire_all()
    assert instalment.status == "paid"
    assert charges(sandbox) == [f"instalment-{instalment.id}-charge-a", f"instalment-{instalment.id}-charge-b"]


def test_a_stale_claim_that_was_declined_is_cleared_then_this_attempt_charges(sandbox):
    instalment = due_instalment()
    now = instalment.due_at + timedelta(days=1)
    stale = f"instalment-{instalment.id}-charge-a"
    sandbox.charge(amount=instalment.total, currency="EUR", payment_method="pm_card_chargeDeclined",
                   idempotency_key=stale, metadata={}, return_url="")  # the dead attempt's charge was declined
    instalment.charge_key, instalment.charge_payment_method = stale, "pm_card_chargeDeclined"
    instalment.charge_started_at = now - timedelta(hours=1)
    db.session.commit()
    loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt="b")
    db.session.expire_all()
    assert instalment.status == "paid" and claim_of(instalment) == (None, None, None)
    assert charges(sandbox) == [stale, stale, f"instalment-{instalment.id}-charge-b"]


def test_an_overdue_instalment_paid_brings_the_loan_back_to_active(sandbox):
    instalment = due_instalment()
    loans.mark_overdue(instalment, now=instalment.due_at + timedelta(days=31))
    db.session.commit()
    assert instalment.loan.status == "overdue"
    loans.pay_instalment(instalment, payment_method="pm_card_visa", now=instalment.due_at + timedelta(days=32))
    db.session.expire_all()
    assert instalment.status == "paid" and instalment.loan.status == "active"


def test_the_refusals_before_any_claim_are_unchanged(sandbox):
    instalment = due_instalment()
    later = instalment.loan.instalments[1]
    with pytest.raises(StateConflict, match="not due yet"):
        loans.pay_instalment(later, payment_method="pm_card_visa", now=later.due_at)
    assert charges(sandbox) == [] and claim_of(later) == (None, None, None)
