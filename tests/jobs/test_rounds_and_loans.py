"""Rounds close, refund, pay out; loans repay to the minor unit, or fall overdue and default."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.campaigns.models import Campaign
from app.extensions import db
from app.jobs.registry import run_due
from app.loans import services as loans
from app.loans.models import Instalment, InstalmentShare, Loan
from app.notifications.models import OutboxMessage
from app.payments import ledger
from app.payments.models import Pledge
from app.payments.services import create_pledge, revoke_pledge
from app.settlement import services as settlement
from app.settlement.models import Payout
from tests.factories import NOW, CampaignFactory
from tests.payments.conftest import make_ready_investor


def pledge(investor, campaign, amount, now=NOW):
    outcome = create_pledge(investor, campaign.id, {"amount": amount, "payment_method": "pm_card_visa",
                                                    "acknowledge_risk": True}, now=now)
    db.session.commit()
    return outcome.pledge if hasattr(outcome, "pledge") else outcome


def results(now):
    return {r.name: r for r in run_due(now)}


def test_failed_round_is_refunded_once_and_its_escrow_is_zero(sandbox):
    campaign = CampaignFactory(target_amount=100_000_00, max_amount=120_000_00, closes_at=NOW + timedelta(days=5))
    investors = [make_ready_investor() for _ in range(3)]
    for investor in investors:
        pledge(investor, campaign, 1_000_00)
    after_close = NOW + timedelta(days=6)
    first = results(after_close)
    assert first["close rounds"].done == 1 and campaign.status == "failed"
    assert first["refund failed and cancelled rounds"].done == 3
    assert sandbox.refunds_made == 3
    assert results(after_close + timedelta(hours=1))["refund failed and cancelled rounds"].done == 0
    assert sandbox.refunds_made == 3
    assert ledger.escrow_balance(campaign.id) == 0
    assert {p.status for p in db.session.scalars(select(Pledge))} == {"refunded"}
    kinds = set(db.session.scalars(select(OutboxMessage.kind)))
    assert "refund" in kinds


def test_payout_waits_for_every_reflection_period(sandbox):
    campaign = CampaignFactory(target_amount=2_000_00, max_amount=3_000_00, closes_at=NOW + timedelta(days=1),
                               term_months=12, interest_rate_bps=600)
    pledge(make_ready_investor(), campaign, 1_000_00)
    pledge(make_ready_investor(), campaign, 1_500_00, now=NOW + timedelta(hours=20))
    closed = NOW + timedelta(days=2)
    assert results(closed)["pay out successful rounds"].done == 0 and campaign.status == "successful"
    # the second pledge's reflection period ends 4 days after it was made
    assert results(NOW + timedelta(days=4, hours=19))["pay out successful rounds"].done == 0
    payout_time = NOW + timedelta(days=4, hours=21)
    assert results(payout_time)["pay out successful rounds"].done == 1
    payout = db.session.scalar(select(Payout))
    assert (payout.gross, payout.fee) == (2_500_00, 2_500_00 * 300 // 10_000)
    assert payout.status == "awaiting_bank_transfer"  # the owner has no connected account
    assert ledger.escrow_balance(campaign.id) == 0
    assert campaign.status == "repaying"
    loan = db.session.scalar(select(Loan))
    assert loan.principal == 2_500_00 and len(loan.instalments) == 12
    assert sum(i.principal for i in loan.instalments) == 2_500_00
    assert results(payout_time + timedelta(hours=1))["pay out successful rounds"].done == 0


@pytest.mark.parametrize("revoked", ["one", "all"])
def test_a_round_revoked_below_its_target_after_closing_fails_and_refunds_the_rest(sandbox, revoked):
    """All or nothing: closing at its target, then losing pledges to the reflection period,
    a round is not paid out below its target; it fails and every remaining pledge is refunded."""
    campaign = CampaignFactory(target_amount=2_000_00, max_amount=3_000_00, closes_at=NOW + timedelta(days=1))
    first_investor, second_investor = make_ready_investor(), make_ready_investor()
    first = pledge(first_investor, campaign, 1_000_00)
    second = pledge(second_investor, campaign, 1_500_00, now=NOW + timedelta(hours=20))
    closed = NOW + timedelta(days=2)
    assert results(closed)["close rounds"].done == 1 and campaign.status == "successful"
    revoke_pledge(second.id, second_investor, now=closed)
    if revoked == "all":  # nothing left to wait for: the next pass decides
        revoke_pledge(first.id, first_investor, now=closed)
        after = closed + timedelta(minutes=1)
    else:
        assert results(NOW + timedelta(days=3, hours=23))["pay out successful rounds"].done == 0
        assert campaign.status == "successful"  # the first pledge's reflection period is still open
        after = NOW + timedelta(days=4, hours=1)
    assert results(after)["pay out successful rounds"].done == 1
    results(after + timedelta(minutes=1))
    db.session.refresh(campaign)
    assert campaign.status == "failed" and db.session.scalar(select(func.count()).select_from(Payout)) == 0
    assert {p.status for p in db.session.scalars(select(Pledge))} == {"refunded"}
    assert sandbox.refunds_made == 2 and ledger.escrow_balance(campaign.id) == 0
    subjects = set(db.session.scalars(select(OutboxMessage.subject)))
    assert f"Round not funded: {campaign.title}" in subjects
    assert results(after + timedelta(hours=1))["pay out successful rounds"].done == 0


def test_owner_with_a_connected_account_is_paid_through_the_gateway_once(sandbox):
    campaign = CampaignFactory(target_amount=1_000_00, max_amount=1_000_00, closes_at=NOW + timedelta(days=30),
                               instrument_type="donation", interest_rate_bps=None, term_months=None, repayment=None)
    settlement.connect_payout_account(campaign.owner, now=NOW)
    db.session.commit()
    pledge(make_ready_investor(classification="sophisticated"), campaign, 1_000_00)  # fills the round
    first = results(NOW + timedelta(minutes=1))
    assert first["close rounds"].done == 1 and first["send payouts"].done == 1
    assert sandbox.payouts_made == 1 and campaign.status == "completed"
    results(NOW + timedelta(days=1))
    assert sandbox.payouts_made == 1
    payout = db.session.scalar(select(Payout))
    assert payout.status == "sent" and payout.reference.startswith("tr_")


def test_operator_records_a_bank_transfer_once(sandbox):
    from app.core.errors import StateConflict, ValidationFailed
    from tests.factories import UserFactory

    campaign = CampaignFactory(target_amount=1_000_00, max_amount=1_000_00)
    pledge(make_ready_investor(classification="sophisticated"), campaign, 1_000_00)
    results(NOW + timedelta(minutes=1))
    payout = db.session.scalar(select(Payout))
    operator = UserFactory(roles=["operator"])
    with pytest.raises(ValidationFailed):
        settlement.record_bank_transfer(payout.id, operator, "", now=NOW)
    settlement.record_bank_transfer(payout.id, operator, "SEPA-2026-000123", now=NOW)
    db.session.commit()
    with pytest.raises(StateConflict):
        settlement.record_bank_transfer(payout.id, operator, "SEPA-2026-000124", now=NOW)


def test_full_loan_life_repays_every_investor_to_the_minor_unit(sandbox):
    campaign = CampaignFactory(target_amount=10_000_00, max_amount=10_000_00, closes_at=NOW + timedelta(days=30),
                               term_months=12, interest_rate_bps=650, repayment="annuity")
    amounts = [3_333_33, 3_333_33, 3_333_34]
    holders = [make_ready_investor(classification="sophisticated") for _ in amounts]
    for investor, amount in zip(holders, amounts, strict=True):
        pledge(investor, campaign, amount)
    now = NOW + timedelta(minutes=1)
    results(now)  # closes (max reached) and pays out (no reflection for sophisticated investors)
    loan = db.session.scalar(select(Loan))
    assert campaign.status == "repaying"
    for instalment in loan.instalments:
        now = instalment.due_at + timedelta(hours=1)
        assert results(now)["instalments due"].done == 1
        loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now)
        db.session.commit()
    assert loan.status == "completed" and campaign.status == "completed"
    total_interest = sum(i.interest for i in loan.instalments)
    for investor, amount in zip(holders, amounts, strict=True):
        got_principal, got_interest = db.session.execute(
            select(func.sum(InstalmentShare.principal), func.sum(InstalmentShare.interest))
            .where(InstalmentShare.investor_id == investor.id)).one()
        got_principal, got_interest = int(got_principal), int(got_interest)
        assert got_principal == amount  # every investor gets back exactly what they lent
        assert got_interest == pytest.approx(total_interest * amount / 10_000_00, abs=12)
        assert ledger.balance(ledger.investor_funds("EUR", user_id=investor.id)) == got_principal + got_interest
    shares_total = db.session.scalar(select(func.sum(InstalmentShare.principal + InstalmentShare.interest)))
    assert int(shares_total) == sum(i.total for i in loan.instalments)


def test_a_loan_that_stops_paying_becomes_overdue_then_defaulted(sandbox):
    campaign = CampaignFactory(target_amount=1_000_00, max_amount=1_000_00, term_months=6)
    pledge(make_ready_investor(classification="sophisticated"), campaign, 1_000_00)
    results(NOW + timedelta(minutes=1))
    loan = db.session.scalar(select(Loan))
    first = loan.instalments[0]
    results(first.due_at + timedelta(days=1))
    assert first.status == "due" and loan.status == "active"
    results(first.due_at + timedelta(days=31))
    assert first.status == "overdue" and loan.status == "overdue"
    results(first.due_at + timedelta(days=91))
    assert loan.status == "defaulted" and campaign.status == "defaulted"
    from app.core.errors import StateConflict

    with pytest.raises(StateConflict):
        loans.pay_instalment(first, payment_method="pm_card_visa", now=first.due_at + timedelta(days=92))


def test_three_equal_holders_share_an_instalment_of_100_by_largest_remainder(sandbox):
    campaign = CampaignFactory(target_amount=300_00, max_amount=300_00, term_months=1, interest_rate_bps=0,
                               min_pledge=100_00)
    for _ in range(3):
        pledge(make_ready_investor(classification="sophisticated"), campaign, 100_00)
    results(NOW + timedelta(minutes=1))
    instalment = db.session.scalar(select(Instalment))
    # an instalment of 100.00 (principal only) split 1:1:1
    instalment.principal, instalment.interest = 100_00, 0
    db.session.commit()
    results(instalment.due_at + timedelta(hours=1))
    shares = loans.receive(instalment, now=instalment.due_at + timedelta(hours=2))
    assert sorted(s.principal for s in shares) == [33_33, 33_33, 33_34]
    assert sum(s.principal for s in shares) == 100_00


def test_campaigns_without_payouts_are_not_touched_by_later_sweeps(sandbox):
    live = CampaignFactory(closes_at=NOW + timedelta(days=10))
    assert all(r.done == 0 for r in run_due(NOW))
    assert db.session.get(Campaign, live.id).status == "live"


def test_the_outbox_is_sent_over_smtp_once(sandbox, _mail):
    campaign = CampaignFactory(target_amount=100_000_00, closes_at=NOW + timedelta(days=5))
    investor = make_ready_investor(email="liisa@example.org")
    pledge(investor, campaign, 1_000_00)
    results(NOW + timedelta(days=6))
    sent = [m for m in _mail.messages if b"liisa@example.org" in m]
    assert len(sent) == 1 and b"has been refunded" in sent[0]
    results(NOW + timedelta(days=7))
    assert len([m for m in _mail.messages if b"liisa@example.org" in m]) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.sent_at.is_(None))) == 0


def test_an_unreachable_mail_server_keeps_the_message_queued(app, sandbox):
    campaign = CampaignFactory(target_amount=100_000_00, closes_at=NOW + timedelta(days=5))
    pledge(make_ready_investor(), campaign, 1_000_00)
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = 9  # discard port: nothing listens
    try:
        results(NOW + timedelta(days=6))
    finally:
        app.config["MAIL_PORT"] = port
    message = db.session.scalar(select(OutboxMessage))
    assert message.sent_at is None and message.attempts == 1 and "Connection" in message.last_error
    results(NOW + timedelta(days=6, minutes=1))
    assert message.sent_at is not None


def test_the_regulators_report_counts_overdue_and_defaulted_loans(sandbox):
    from app.disclosures.reports import default_rates

    campaign = CampaignFactory(target_amount=1_000_00, max_amount=1_000_00, term_months=6, risk_class="C")
    pledge(make_ready_investor(classification="sophisticated"), campaign, 1_000_00)
    results(NOW + timedelta(minutes=1))
    first = db.session.scalar(select(Loan)).instalments[0]
    results(first.due_at + timedelta(days=31))
    assert default_rates(first.due_at + timedelta(days=31))["C"] == {
        "loans": 1, "defaulted": 0, "overdue": 1, "default_rate_bps": 0}
    results(first.due_at + timedelta(days=91))
    later = default_rates(first.due_at + timedelta(days=92))["C"]
    assert later["defaulted"] == 1 and later["overdue"] == 0 and later["default_rate_bps"] == 10_000


def test_settlement_charges_the_fee_the_sheet_disclosed_not_todays_configuration(app, sandbox):
    from app.campaigns import services as campaigns

    campaign = CampaignFactory(target_amount=1_000_00, max_amount=2_000_00, closes_at=NOW + timedelta(days=1))
    campaigns.freeze_kiis(campaign, now=NOW, fee_bps=300)
    db.session.commit()
    pledge(make_ready_investor(), campaign, 1_000_00)
    app.config["PLATFORM_FEE_BPS"], before = 500, app.config["PLATFORM_FEE_BPS"]
    try:
        results(NOW + timedelta(days=6))
    finally:
        app.config["PLATFORM_FEE_BPS"] = before
    payout = db.session.scalar(select(Payout).where(Payout.campaign_id == campaign.id))
    assert (payout.gross, payout.fee) == (1_000_00, 1_000_00 * 300 // 10_000)
