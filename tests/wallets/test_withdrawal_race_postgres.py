"""Two withdrawals of one wallet at the same instant on PostgreSQL: the row lock on the wallet's
ledger account makes the second wait, see what the first left, and be refused."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from app.accounts.models import User
from app.core.errors import DomainError
from app.extensions import db
from app.payments import ledger
from app.wallets import services
from tests.factories import NOW
from tests.payments.conftest import assert_ledger_invariants, make_ready_investor
from tests.payments.test_race_postgres import _race_app
from tests.payments.test_wallet_and_transfer_pledges import credit_wallet


def _withdraw_at_once(race_app, barrier: threading.Barrier, user_id: int, amount: int) -> int:
    with race_app.app_context():
        try:
            user = db.session.get(User, user_id)
            barrier.wait(timeout=30)
            services.request_withdrawal(user, {"amount": amount, "currency": "EUR"}, now=NOW)
            db.session.commit()
            return 201
        except DomainError as exc:
            db.session.rollback()
            return exc.status
        finally:
            db.session.remove()


def _cleanup(user_id: int) -> None:
    with db.engine.begin() as conn:
        for sql in (
            "DELETE FROM withdrawals WHERE investor_id = :u",
            "DELETE FROM bank_accounts WHERE owner_type = 'user' AND owner_id = :u",
            "DELETE FROM ledger_entries WHERE transaction_id IN (SELECT id FROM ledger_transactions "
            "WHERE idempotency_key LIKE 'test-credit-%' OR idempotency_key LIKE 'withdrawal-%')",
            "DELETE FROM ledger_transactions WHERE idempotency_key LIKE 'test-credit-%' "
            "OR idempotency_key LIKE 'withdrawal-%'",
            "DELETE FROM ledger_accounts a WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e "
            "WHERE e.account_id = a.id)",
            "DELETE FROM audit_log WHERE actor_id = :u",
            "DELETE FROM knowledge_test_attempts WHERE user_id = :u",
            "DELETE FROM investor_profiles WHERE user_id = :u",
            "DELETE FROM user_roles WHERE user_id = :u",
            "DELETE FROM users WHERE id = :u",
        ):
            conn.execute(text(sql), {"u": user_id})


@pytest.mark.postgres
@pytest.mark.slow
def test_two_withdrawals_at_once_never_spend_the_same_money():
    race_app = _race_app(4)
    with race_app.app_context():
        investor = make_ready_investor()
        investor_id = investor.id
        credit_wallet(100_00, user=investor)
        services.set_bank_account(investor, {"holder_name": "Mari Maasikas", "iban": "EE382200221020145685"},
                                  now=NOW)
        db.session.commit()
        db.session.remove()
    barrier = threading.Barrier(2)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(lambda _: _withdraw_at_once(race_app, barrier, investor_id, 60_00),
                                       range(2)))
        assert statuses == [201, 422]
        with race_app.app_context():
            assert ledger.balance(ledger.investor_funds("EUR", user_id=investor_id)) == 40_00
            assert ledger.balance(ledger.withdrawals_pending("EUR", user_id=investor_id)) == 60_00
            assert_ledger_invariants()
    finally:
        with race_app.app_context():
            db.session.remove()
            _cleanup(investor_id)
            db.engine.dispose()
