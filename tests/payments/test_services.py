"""The pledge service's sweeps and the entry points the jobs and webhooks call."""

from datetime import timedelta

import pytest

from app.core.errors import StateConflict, ValidationFailed
from app.extensions import db
from app.payments import ledger, services
from app.payments.gateways.base import ChargeResult, GatewayError
from app.payments.jobs import expire_unpaid
from app.payments.models import Pledge
from tests.factories import NOW, CampaignFactory
from tests.payments.conftest import fresh, make_ready_investor

VISA = {"amount": 500_00, "payment_method": "pm_card_visa"}
THREE_DS = {"amount": 500_00, "payment_method": "pm_card_authenticationRequired"}


def pledge(investor, campaign, data, **kwargs) -> Pledge:
    return services.create_pledge(investor, campaign.id, data, now=NOW, **kwargs).pledge


def test_the_expiry_sweep_releases_the_room_after_thirty_minutes_once(investor, campaign):
    p = pledge(investor, campaign, THREE_DS)
    assert expire_unpaid.run(NOW + timedelta(minutes=29)).done == 0
    assert expire_unpaid.run(NOW + timedelta(minutes=30)).done == 1
    assert expire_unpaid.run(NOW + timedelta(minutes=31)).done == 0
    assert fresh(p).status == "expired"
    c = fresh(campaign)
    assert (c.reserved_amount, c.raised_amount) == (0, 0)


def test_the_expiry_sweep_records_a_payment_completed_just_before(investor, campaign, sandbox):
    p = pledge(investor, campaign, THREE_DS)
    sandbox.confirm(reference=p.gateway_reference, idempotency_key="outside")  # paid at the bank, not yet here
    expire_unpaid.run(NOW + timedelta(hours=1))
    assert fresh(p).status == "paid"
    assert fresh(campaign).raised_amount == 500_00


def test_a_charge_that_succeeds_after_expiry_is_refunded_not_counted(investor, campaign, sandbox):
    p = pledge(investor, campaign, THREE_DS)
    expire_unpaid.run(NOW + timedelta(hours=1))
    late = sandbox.confirm(reference=p.gateway_reference, idempotency_key="late")
    services.record_charge_result(fresh(p), late, now=NOW + timedelta(hours=2))
    db.session.commit()
    again = fresh(p)
    services.record_charge_result(again, late, now=NOW + timedelta(hours=3))  # a repeated webhook
    db.session.commit()
    p = fresh(p)
    assert p.status == "expired" and p.refund_reason == "late_payment"
    assert sandbox.refunds_made == 1
    assert fresh(campaign).raised_amount == 0 and ledger.escrow_balance(campaign.id) == 0


def test_confirming_3ds_pays_the_pledge(investor, campaign, sandbox):
    p = pledge(investor, campaign, THREE_DS)
    services.confirm_pledge(p.id, investor, now=NOW + timedelta(minutes=2))
    p = fresh(p)
    assert p.status == "paid" and sandbox.charges_made == 1
    assert fresh(campaign).raised_amount == 500_00
    with pytest.raises(StateConflict):
        services.confirm_pledge(p.id, investor, now=NOW)


def test_aborting_3ds_fails_the_pledge_and_frees_the_room(investor, campaign, sandbox):
    p = pledge(investor, campaign, THREE_DS)
    services.abort_pledge(p.id, investor, now=NOW)
    assert fresh(p).status == "failed"
    assert fresh(campaign).reserved_amount == 0 and sandbox.charges_made == 0


def test_an_expired_pledge_cannot_be_confirmed(investor, campaign, sandbox):
    p = pledge(investor, campaign, THREE_DS)
    expire_unpaid.run(NOW + timedelta(hours=1))
    with pytest.raises(StateConflict):
        services.confirm_pledge(p.id, investor, now=NOW + timedelta(hours=1))
    assert sandbox.charges_made == 0


def test_refund_pledge_for_a_failed_round_is_idempotent(investor, campaign, sandbox):
    p = pledge(investor, campaign, VISA)
    campaign.status = "failed"
    db.session.commit()
    services.refund_pledge(p, now=NOW, reason="round_failed")
    services.refund_pledge(p, now=NOW, reason="round_failed")
    db.session.commit()
    p = fresh(p)
    assert p.status == "refunded" and p.refund_reason == "round_failed"
    assert sandbox.refunds_made == 1 and ledger.escrow_balance(campaign.id) == 0
    assert fresh(campaign).raised_amount == 500_00  # the round's record of what was raised stands


def test_refund_pledge_after_a_crash_before_commit_refunds_once(investor, campaign, sandbox):
    p = pledge(investor, campaign, VISA)
    services.refund_pledge(p, now=NOW, reason="round_cancelled")
    db.session.rollback()  # the process died before its commit
    services.refund_pledge(fresh(p), now=NOW, reason="round_cancelled")
    db.session.commit()
    assert fresh(p).status == "refunded" and sandbox.refunds_made == 1


def test_refund_pledge_propagates_an_unreachable_gateway_and_records_nothing(investor, campaign, sandbox):
    p = pledge(investor, campaign, VISA)
    sandbox.fail_next = GatewayError("down")
    with pytest.raises(GatewayError):
        services.refund_pledge(p, now=NOW, reason="round_failed")
    assert fresh(p).status == "paid" and ledger.escrow_balance(campaign.id) == 500_00


def test_a_refund_made_at_the_gateway_is_recorded_once_and_leaves_a_live_round(investor, campaign, sandbox):
    p = pledge(investor, campaign, VISA)
    for _ in range(2):
        services.record_gateway_refund(fresh(p), amount_refunded=500_00, now=NOW)
        db.session.commit()
    p = fresh(p)
    assert (p.status, p.refund_reason) == ("refunded", "gateway_refund")
    c = fresh(campaign)
    assert (c.raised_amount, c.backers_count) == (0, 0) and ledger.escrow_balance(campaign.id) == 0


def test_a_partial_gateway_refund_changes_nothing(investor, campaign):
    p = pledge(investor, campaign, VISA)
    services.record_gateway_refund(p, amount_refunded=100_00, now=NOW)
    assert fresh(p).status == "paid"


def test_expire_pledge_is_the_per_item_step_of_the_sweep(investor, campaign):
    p = pledge(investor, campaign, THREE_DS)
    assert services.expire_pledge(p, now=NOW + timedelta(hours=1)) is True
    assert services.expire_pledge(p, now=NOW + timedelta(hours=1)) is False
    db.session.commit()
    assert fresh(campaign).reserved_amount == 0


def test_a_pending_pledge_cannot_be_refunded(investor, campaign):
    p = pledge(investor, campaign, THREE_DS)
    with pytest.raises(StateConflict):
        services.refund_pledge(p, now=NOW, reason="round_failed")


def test_record_charge_result_is_idempotent_for_repeated_webhooks(investor, campaign, sandbox):
    p = pledge(investor, campaign, THREE_DS)
    result = ChargeResult("succeeded", p.gateway_reference)
    for _ in range(3):
        services.record_charge_result(fresh(p), result, now=NOW)
        db.session.commit()
    assert fresh(p).status == "paid"
    c = fresh(campaign)
    assert (c.raised_amount, c.backers_count, c.reserved_amount) == (500_00, 1, 0)
    assert services.find_by_reference(p.gateway_reference).id == p.id


def test_settle_pledge_moves_only_paid_pledges(investor, campaign):
    p = pledge(investor, campaign, VISA)
    assert services.settle_pledge(p, now=NOW) is True
    assert services.settle_pledge(p, now=NOW) is False
    ledger.post_settlement(campaign_id=campaign.id, owner_id=campaign.owner_id, currency="EUR", gross=500_00,
                           fee=15_00, now=NOW)
    db.session.commit()
    assert fresh(p).status == "settled" and ledger.escrow_balance(campaign.id) == 0


def test_the_annual_limit_counts_this_platforms_live_pledges(campaign, app):
    from tests.payments.conftest import make_ready_investor

    app.config["PLATFORM_JURISDICTION"] = "RU"
    try:
        from app.investors.models import InvestorProfile

        investor = make_ready_investor(classification="non_qualified")
        profile = db.session.query(InvestorProfile).filter_by(user_id=investor.id).one()
        profile.currency = "RUB"
        db.session.commit()
        from tests.factories import CampaignFactory

        rub = CampaignFactory(currency="RUB", target_amount=1_000_000_00, max_amount=2_000_000_00)
        pledge(investor, rub, {"amount": 590_000_00, "payment_method": "pm_card_visa"})
        with pytest.raises(ValidationFailed) as refused:
            pledge(investor, rub, {"amount": 20_000_00, "payment_method": "pm_card_visa"})
        assert "amount" in refused.value.errors
        first = db.session.query(Pledge).filter_by(status="paid").one()
        assert first.reflection_ends_at is None  # no reflection period in 259-FZ
    finally:
        app.config["PLATFORM_JURISDICTION"] = "EU"


def _audit_rows(action: str) -> list:
    from sqlalchemy import select

    from app.core.audit import AuditEntry

    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_pledge_is_audited_with_its_subject_actor_and_terms_in_its_first_transaction(investor, campaign):
    """One statement on PostgreSQL, three on SQLite: the same entry either way."""
    p = pledge(investor, campaign, VISA, ip_address="192.0.2.7")
    [entry] = _audit_rows("pledge.created")
    assert (entry.subject_type, entry.subject_id, entry.actor_id, entry.ip_address) == (
        "pledge", str(p.id), investor.id, "192.0.2.7")
    assert entry.details == {"campaign_id": campaign.id, "amount": 500_00, "currency": campaign.currency,
                             "kiis_version": campaign.current_kiis_version, "risk_acknowledged": False}
    assert entry.created_at == NOW


def test_a_pledge_refused_for_room_leaves_no_pledge_no_entry_and_no_reservation(investor):
    small = CampaignFactory(target_amount=500_00, max_amount=800_00)
    pledge(make_ready_investor(), small, VISA)
    with pytest.raises(StateConflict, match=r"Only €300\.00 of room"):
        pledge(investor, small, VISA)
    assert db.session.query(Pledge).count() == 1 and len(_audit_rows("pledge.created")) == 1
    assert (fresh(small).reserved_amount, fresh(small).raised_amount) == (0, 500_00)
