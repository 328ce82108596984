"""An instalment's payment holds no row lock across the gateway call (PostgreSQL, threads).

The suite's per-test transaction binds one connection, so these tests build their own
app on a fresh database, commit their data, and run one thread (one app context, one
session, one connection) per actor, as the pledge race tests do.
"""

import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text

from app import create_app
from app.core.errors import DomainError
from app.extensions import db
from app.loans import jobs as loan_jobs
from app.loans import services as loans
from app.loans.models import Instalment
from app.payments import ledger
from app.payments.gateways.sandbox import SandboxGateway
from tests.loans.conftest import due_instalment
from tests.payments.conftest import assert_ledger_invariants

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
CHARGE_SECONDS = 2.0


class SlowGateway(SandboxGateway):
    """The sandbox, with instalment charges that take ``CHARGE_SECONDS`` (a slow network)."""

    def __init__(self) -> None:
        super().__init__()
        self.charging = threading.Event()

    def charge(self, **kwargs):
        if kwargs["idempotency_key"].startswith("instalment-"):
            self.charging.set()
            time.sleep(CHARGE_SECONDS)
        return super().charge(**kwargs)


@pytest.fixture
def pg_app() -> Iterator:
    """An app on a fresh, migrated PostgreSQL database with a slow gateway."""
    base = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", os.environ["TEST_DATABASE_URL"])
    name = f"greenround_loans_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    app = create_app({"SQLALCHEMY_DATABASE_URI": base.rsplit("/", 1)[0] + "/" + name,
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 4, "max_overflow": 0}})
    app.extensions["gateway"] = SlowGateway()
    try:
        with app.app_context():
            upgrade()
            db.session.remove()
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _pay(app, instalment_id: int, attempt: str, now, barrier: threading.Barrier | None = None) -> str:
    """One thread's payment: "paid", or the refusal's detail."""
    with app.app_context():
        try:
            instalment = db.session.get(Instalment, instalment_id)
            if barrier is not None:
                barrier.wait(timeout=30)
            loans.pay_instalment(instalment, payment_method="pm_card_visa", now=now, attempt=attempt)
            return "paid"
        except DomainError as exc:
            return f"{exc.status} {exc.detail}"
        finally:
            db.session.remove()


def test_a_sweep_on_the_same_instalment_and_loan_does_not_wait_for_the_charge(pg_app):
    with pg_app.app_context():
        instalment = due_instalment()
        instalment_id, loan_id = instalment.id, instalment.loan_id
        late = instalment.due_at + timedelta(days=31)  # the overdue sweep wants this instalment now
        db.session.remove()
    gateway = pg_app.extensions["gateway"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        payment = pool.submit(_pay, pg_app, instalment_id, "a", late)
        assert gateway.charging.wait(timeout=30)
        started = time.monotonic()
        with pg_app.app_context():
            db.session.execute(text("SET LOCAL lock_timeout = '1s'"))
            db.session.execute(select(Instalment.id).where(Instalment.id == instalment_id).with_for_update())
            db.session.execute(text("SELECT id FROM loans WHERE id = :id FOR UPDATE"), {"id": loan_id})
            db.session.rollback()
            swept = loan_jobs.instalments_overdue.run(late)  # claims with FOR UPDATE SKIP LOCKED
            db.session.remove()
        elapsed = time.monotonic() - started
        assert (swept.done, swept.skipped) == (1, 0)  # not skipped: nothing held the row
        assert elapsed < CHARGE_SECONDS / 2
        assert not payment.done()  # the charge is still on the wire
        assert payment.result(timeout=30) == "paid"
    with pg_app.app_context():
        instalment = db.session.get(Instalment, instalment_id)
        assert instalment.status == "paid"  # overdue while the charge ran, then paid
        assert instalment.loan.status == "active"  # and nothing else is overdue
        assert instalment.charge_key is None
        assert gateway.calls.count(("charge", f"instalment-{instalment_id}-charge-a")) == 1
        assert_ledger_invariants()


def test_two_attempts_at_once_pay_once_and_the_other_is_told_it_is_in_progress(pg_app):
    with pg_app.app_context():
        instalment = due_instalment()
        instalment_id, now = instalment.id, instalment.due_at + timedelta(days=1)
        db.session.remove()
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(lambda attempt: _pay(pg_app, instalment_id, attempt, now, barrier), ["a", "b"]))
    assert outcomes == ["409 A payment of this instalment is in progress.", "paid"]
    gateway = pg_app.extensions["gateway"]
    assert len([c for c in gateway.calls if c[1].startswith(f"instalment-{instalment_id}-")]) == 1
    with pg_app.app_context():
        assert db.session.get(Instalment, instalment_id).status == "paid"
        assert db.session.scalar(select(func.count()).select_from(ledger.LedgerTransaction).where(
            ledger.LedgerTransaction.idempotency_key == f"instalment-{instalment_id}-received")) == 1
        assert_ledger_invariants()


def test_two_schedulers_collecting_by_mandate_at_once_charge_once(pg_app):
    """Two ``instalments collected by mandate`` sweeps at the same instant on one due
    instalment (the charge is slow): one collects it, the other skips or finds it tried today."""
    with pg_app.app_context():
        instalment = due_instalment()
        instalment_id, at = instalment.id, instalment.due_at + timedelta(hours=2)
        db.session.execute(text("UPDATE campaigns SET repayment_mandate = 'pm_card_visa' WHERE id = :c"),
                           {"c": instalment.loan.campaign_id})
        db.session.commit()
        db.session.remove()
    barrier = threading.Barrier(2)

    def sweep(_: int) -> int:
        with pg_app.app_context():
            try:
                barrier.wait(timeout=30)
                return loan_jobs.instalments_collected.run(at).done
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(sweep, range(2)))
    gateway = pg_app.extensions["gateway"]
    assert [c for c in gateway.calls if c[1].startswith(f"instalment-{instalment_id}-")] == [
        ("charge", f"instalment-{instalment_id}-charge-mandate-{at.date()}")]
    with pg_app.app_context():
        assert db.session.get(Instalment, instalment_id).status == "paid"
        assert_ledger_invariants()
