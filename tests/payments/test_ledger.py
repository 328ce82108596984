"""The double-entry ledger: balanced, single-currency, idempotent transactions."""

import pytest

from app.extensions import db
from app.payments import ledger
from app.payments.ledger import LedgerError, LedgerTransaction
from app.payments.models import Pledge
from tests.factories import NOW, CampaignFactory, UserFactory


def paid_pledge(campaign, amount: int) -> Pledge:
    pledge = Pledge(campaign_id=campaign.id, investor_id=UserFactory().id, amount=amount, currency="EUR",
                    status="paid", payment_method="pm_card_visa", created_at=NOW, paid_at=NOW)
    db.session.add(pledge)
    db.session.flush()
    ledger.post_pledge_paid(pledge, now=NOW)
    return pledge


def test_a_paid_pledge_moves_card_money_through_the_investor_into_escrow():
    c = CampaignFactory()
    pledge = paid_pledge(c, 500)
    db.session.commit()
    tx = db.session.query(LedgerTransaction).one()
    assert tx.idempotency_key == f"pledge-{pledge.id}-paid" and tx.pledge_id == pledge.id
    assert [(e.account.kind, e.amount) for e in tx.entries] == [
        ("gateway_clearing", 500), ("investor_funds", -500), ("investor_funds", 500), ("campaign_escrow", -500)]
    assert ledger.balance(ledger.gateway_clearing("EUR")) == 500  # an asset: debit-normal
    assert ledger.balance(ledger.campaign_escrow(c.id, "EUR")) == 500  # a liability: credit-normal
    assert ledger.balance(ledger.investor_funds("EUR", user_id=pledge.investor_id)) == 0
    assert ledger.escrow_balance(c.id) == 500


@pytest.mark.parametrize("entries, message", [
    ([("clearing", 500), ("fees", -499)], "Unbalanced"),
    ([("clearing", 500)], "at least two"),
    ([("clearing", 0), ("fees", 0)], "non-zero"),
    ([("clearing", 1.5), ("fees", -1.5)], "non-zero integers"),
    ([("clearing", 500), ("fees_sek", -500)], "one currency"),
])
def test_post_refuses_what_breaks_double_entry(entries, message):
    refs = {"clearing": ledger.gateway_clearing("EUR"), "fees": ledger.platform_fees("EUR"),
            "fees_sek": ledger.platform_fees("SEK")}
    with pytest.raises(LedgerError, match=message):
        ledger.post("bad", [(refs[name], amount) for name, amount in entries], now=NOW, idempotency_key="bad")
    assert db.session.query(LedgerTransaction).count() == 0


def test_post_is_idempotent_by_key_and_refuses_the_key_for_other_entries():
    clearing, fees = ledger.gateway_clearing("EUR"), ledger.platform_fees("EUR")
    first = ledger.post("fee", [(clearing, 100), (fees, -100)], now=NOW, idempotency_key="fee-1")
    again = ledger.post("fee", [(clearing, 100), (fees, -100)], now=NOW, idempotency_key="fee-1")
    db.session.commit()
    assert again.id == first.id
    assert ledger.balance(fees) == 100
    with pytest.raises(LedgerError, match="already used"):
        ledger.post("fee", [(clearing, 200), (fees, -200)], now=NOW, idempotency_key="fee-1")


def test_accounts_are_created_once_per_kind_owner_and_currency():
    a = ledger.account(ledger.investor_funds("EUR", user_id=7))
    b = ledger.account(ledger.investor_funds("EUR", user_id=7))
    c = ledger.account(ledger.investor_funds("EUR", fund_id=7))
    assert a.id == b.id != c.id


def _settle_and_pay_out(c, *, gross: int, fee: int):
    """What the payout job posts: the settlement, then the payout the gateway confirmed."""
    settled = ledger.post_settlement(campaign_id=c.id, owner_id=c.owner_id, currency="EUR", gross=gross, fee=fee,
                                     now=NOW)
    sent = ledger.post_payout_sent(campaign_id=c.id, owner_id=c.owner_id, currency="EUR", amount=gross - fee, now=NOW)
    return settled, sent


def test_settlement_and_payout_empty_the_escrow_into_fees_and_the_owner():
    c = CampaignFactory()
    paid_pledge(c, 10_000)
    settled, sent = _settle_and_pay_out(c, gross=10_000, fee=300)
    db.session.commit()
    assert ledger.escrow_balance(c.id) == 0
    assert ledger.balance(ledger.platform_fees("EUR")) == 300
    assert ledger.balance(ledger.owner_payable(c.owner_id, "EUR")) == 0
    assert ledger.balance(ledger.gateway_clearing("EUR")) == 300
    assert sent is not None and settled.idempotency_key == f"campaign-{c.id}-settlement"
    # Paying out twice posts nothing more.
    _settle_and_pay_out(c, gross=10_000, fee=300)
    assert ledger.balance(ledger.platform_fees("EUR")) == 300


def test_settlement_refuses_a_fee_above_the_gross():
    with pytest.raises(LedgerError):
        ledger.post_settlement(campaign_id=1, owner_id=1, currency="EUR", gross=100, fee=101, now=NOW)


def test_a_posting_rolled_back_leaves_no_stale_transaction_in_the_session():
    """``post`` adopts its Core-inserted row; a rollback must forget it like an ORM insert."""
    clearing, fees = ledger.gateway_clearing("EUR"), ledger.platform_fees("EUR")
    first = ledger.post("fee", [(clearing, 100), (fees, -100)], now=NOW, idempotency_key="fee-rolled-back")
    db.session.rollback()
    assert first not in db.session
    again = ledger.post("fee", [(clearing, 100), (fees, -100)], now=NOW, idempotency_key="fee-rolled-back")
    db.session.commit()
    assert again in db.session and [e.amount for e in again.entries] == [100, -100]
    assert db.session.query(LedgerTransaction).count() == 1
