"""Fifty investors pledge at the same instant into a round with room for twenty.

The suite's per-test transaction binds one connection, so this test builds its own app
and engine on the same PostgreSQL database, commits its data, runs one thread (one app
context, one session, one connection) per investor, and deletes its rows at the end.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from app import create_app
from app.accounts.models import User
from app.campaigns.models import Campaign
from app.core.errors import DomainError
from app.extensions import db
from app.payments import ledger, services
from app.payments.gateways.sandbox import SandboxGateway
from tests.conftest import create_app_url
from tests.factories import NOW, CampaignFactory
from tests.payments.conftest import assert_ledger_invariants, make_ready_investor

THREADS = 50
ROOM_FOR = 20
AMOUNT = 500_00


def _cleanup(campaign_id: int, user_ids: list[int]) -> None:
    users = {"ids": user_ids}
    statements = [
        ("DELETE FROM ledger_entries WHERE transaction_id IN "
         "(SELECT id FROM ledger_transactions WHERE campaign_id = :c)", {"c": campaign_id}),
        ("DELETE FROM ledger_transactions WHERE campaign_id = :c", {"c": campaign_id}),
        ("DELETE FROM ledger_accounts a WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.account_id = a.id)",
         {}),
        ("DELETE FROM pledges WHERE campaign_id = :c", {"c": campaign_id}),
        ("DELETE FROM audit_log WHERE actor_id = ANY(:ids) OR subject_type = 'pledge'", users),
        ("DELETE FROM campaign_sdgs WHERE campaign_id = :c", {"c": campaign_id}),
        ("DELETE FROM campaigns WHERE id = :c", {"c": campaign_id}),
        ("DELETE FROM knowledge_test_attempts WHERE user_id = ANY(:ids)", users),
        ("DELETE FROM investor_profiles WHERE user_id = ANY(:ids)", users),
        ("DELETE FROM user_roles WHERE user_id = ANY(:ids)", users),
        ("DELETE FROM users WHERE id = ANY(:ids)", users),
    ]
    with db.engine.begin() as conn:
        for sql, params in statements:
            conn.execute(text(sql), params)


def _race_app(pool_size: int, **config) -> object:
    """An app with its own engine on the test database and a fresh sandbox gateway."""
    race_app = create_app({
        "SQLALCHEMY_DATABASE_URI": create_app_url(os.environ["TEST_DATABASE_URL"]),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": pool_size, "max_overflow": 0, "pool_pre_ping": True},
        **config,
    })
    race_app.extensions["gateway"] = SandboxGateway()
    return race_app


def _pledge_at_once(race_app, barrier: threading.Barrier, user_id: int, campaign_id: int, amount: int,
                    payment_method: str = "pm_card_visa") -> int:
    """One thread's pledge, started with the others at the barrier: 201 if paid, else the refusal's status."""
    with race_app.app_context():
        try:
            user = db.session.get(User, user_id)
            barrier.wait(timeout=30)
            outcome = services.create_pledge(user, campaign_id, {"amount": amount, "payment_method": payment_method},
                                             now=NOW)
            return 201 if outcome.pledge.status == "paid" else 0
        except DomainError as exc:
            return exc.status
        finally:
            db.session.remove()


@pytest.mark.postgres
@pytest.mark.slow
def test_fifty_threads_fill_a_round_with_room_for_twenty_and_not_one_more():
    race_app = _race_app(THREADS)
    with race_app.app_context():
        assert db.engine.dialect.name == "postgresql"
        campaign = CampaignFactory(target_amount=ROOM_FOR * AMOUNT, max_amount=ROOM_FOR * AMOUNT, min_pledge=AMOUNT)
        campaign_id, owner_id = campaign.id, campaign.owner_id
        user_ids = [make_ready_investor().id for _ in range(THREADS)]
        db.session.remove()
    barrier = threading.Barrier(THREADS)

    def pledge(user_id: int) -> int:
        return _pledge_at_once(race_app, barrier, user_id, campaign_id, AMOUNT)

    try:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            statuses = list(pool.map(pledge, user_ids))
        assert sorted(statuses) == [201] * ROOM_FOR + [409] * (THREADS - ROOM_FOR)
        with race_app.app_context():
            c = db.session.get(Campaign, campaign_id)
            assert c.raised_amount == c.max_amount == ROOM_FOR * AMOUNT
            assert (c.backers_count, c.reserved_amount) == (ROOM_FOR, 0)
            assert ledger.escrow_balance(campaign_id) == ROOM_FOR * AMOUNT
            assert race_app.extensions["gateway"].charges_made == ROOM_FOR
            assert_ledger_invariants()
    finally:
        with race_app.app_context():
            db.session.remove()
            _cleanup(campaign_id, [*user_ids, owner_id])
            db.engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_one_investors_simultaneous_pledges_into_two_campaigns_never_pass_the_annual_cap():
    """RU: 400,000 + 400,000 RUB at the same instant into different rounds; the cap is 600,000.

    The rounds' row locks do not meet, so only the lock on the investor's profile makes
    the second pledge count the first: exactly one is paid, the other is refused (422).
    """
    race_app = _race_app(4, PLATFORM_JURISDICTION="RU")
    with race_app.app_context():
        investor = make_ready_investor(classification="non_qualified")
        db.session.execute(text("UPDATE investor_profiles SET currency = 'RUB' WHERE user_id = :u"),
                           {"u": investor.id})
        db.session.commit()
        campaigns = [CampaignFactory(currency="RUB", target_amount=1_000_000_00, max_amount=10_000_000_00)
                     for _ in range(2)]
        campaign_ids = [c.id for c in campaigns]
        owner_ids = [c.owner_id for c in campaigns]
        investor_id = investor.id
        db.session.remove()
    rounds = 6  # the window is narrow: try it several times, each time with fresh rounds' headroom
    barrier = threading.Barrier(2)

    def pledge(campaign_id: int) -> int:
        return _pledge_at_once(race_app, barrier, investor_id, campaign_id, 400_000_00)

    try:
        for _ in range(rounds):
            with ThreadPoolExecutor(max_workers=2) as pool:
                statuses = sorted(pool.map(pledge, campaign_ids))
            assert statuses == [201, 422]
            with race_app.app_context():
                live = db.session.execute(text(
                    "SELECT count(*), coalesce(sum(amount), 0) FROM pledges WHERE investor_id = :u "
                    "AND status = 'paid'"), {"u": investor_id}).one()
                assert tuple(live) == (1, 400_000_00)
                # Give the year's headroom back for the next attempt (as a refund would).
                db.session.execute(text("UPDATE pledges SET status = 'refunded' WHERE investor_id = :u"),
                                   {"u": investor_id})
                db.session.commit()
                db.session.remove()
    finally:
        with race_app.app_context():
            db.session.remove()
            for campaign_id in campaign_ids:
                _cleanup(campaign_id, [])
            _cleanup(campaign_ids[0], [investor_id, *owner_ids])
            db.engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_wallet_pledges_at_once_never_spend_the_same_money():
    """100.00 in the wallet, 60.00 pledged into two rounds at the same instant: the lock on the
    wallet's ledger account makes the second wait and see 40.00 left, so it is refused (422)."""
    from tests.payments.test_wallet_and_transfer_pledges import credit_wallet

    race_app = _race_app(4)
    with race_app.app_context():
        investor = make_ready_investor()
        campaigns = [CampaignFactory(min_pledge=10_00) for _ in range(2)]
        campaign_ids, owner_ids, investor_id = [c.id for c in campaigns], [c.owner_id for c in campaigns], investor.id
        credit_wallet(100_00, user=investor)
        db.session.remove()
    barrier = threading.Barrier(2)

    def pledge(campaign_id: int) -> int:
        return _pledge_at_once(race_app, barrier, investor_id, campaign_id, 60_00, payment_method="wallet")

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(pledge, campaign_ids))
        assert statuses == [201, 422]
        with race_app.app_context():
            assert ledger.balance(ledger.investor_funds("EUR", user_id=investor_id)) == 40_00
            assert race_app.extensions["gateway"].charges_made == 0
            assert_ledger_invariants()
    finally:
        with race_app.app_context():
            db.session.remove()
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM ledger_entries WHERE transaction_id IN (SELECT id FROM "
                                  "ledger_transactions WHERE idempotency_key LIKE 'test-credit-%')"))
                conn.execute(text("DELETE FROM ledger_transactions WHERE idempotency_key LIKE 'test-credit-%'"))
            for campaign_id, owner_id in zip(campaign_ids, owner_ids, strict=True):
                _cleanup(campaign_id, [investor_id, owner_id] if campaign_id == campaign_ids[-1] else [owner_id])
            db.engine.dispose()
