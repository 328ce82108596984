"""Several ``flask jobs run-due`` processes at once, and one killed mid-sweep (PostgreSQL).

These run real processes against their own committed database, with the sandbox's
journal standing in for the gateway's memory of idempotency keys across processes.
"""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text

from app import create_app
from app.accounts.models import User, UserRole
from app.campaigns.models import Campaign, CampaignSdg
from app.core.audit import AuditEntry
from app.extensions import db
from app.payments import ledger
from app.payments.gateways.sandbox import Journal
from app.payments.models import Pledge
from app.settlement.models import Payout, PayoutAccount
from app.settlement.refunds import BATCH_SIZE
from tests.factories import NOW, PASSWORD_HASH

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg(tmp_path):
    """A fresh PostgreSQL database with the schema, and an app bound to it."""
    base = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", os.environ["TEST_DATABASE_URL"])
    name = f"greenround_jobs_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    journal = str(tmp_path / "gateway.sqlite")
    Journal(journal)  # create its tables before any process polls them
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SANDBOX_JOURNAL": journal, "MAIL_PORT": 9})
    with app.app_context():
        upgrade()
    try:
        yield app, url, journal
    finally:
        with app.app_context():
            db.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(campaign_specs: list[tuple[int, int, int]]) -> None:
    """Committed campaigns ``(target, pledges, pledge amount)``, each with paid pledges in
    escrow; the owners have connected payout accounts."""
    investor = User(email=f"inv-{uuid.uuid4().hex[:6]}@example.org", password_hash=PASSWORD_HASH, name="Investor",
                    country="EE", session_token="t", created_at=NOW, roles=[UserRole(role="investor")])
    db.session.add(investor)
    db.session.flush()
    for index, (target, count, amount) in enumerate(campaign_specs):
        owner = User(email=f"owner{index}-{uuid.uuid4().hex[:6]}@example.org", password_hash=PASSWORD_HASH,
                     name=f"Owner {index}", country="EE", session_token="t", created_at=NOW,
                     roles=[UserRole(role="owner")])
        db.session.add(owner)
        db.session.flush()
        db.session.add(PayoutAccount(user_id=owner.id, gateway="sandbox", account_reference=f"acct_sbx_{index}",
                                     created_at=NOW))
        campaign = Campaign(owner_id=owner.id, title=f"Retrofit {index}", summary="A building retrofit.",
                            description="Insulation and heat pumps.", category="energy_efficiency", country="EE",
                            location="Tallinn", currency="EUR", instrument_type="loan", interest_rate_bps=600,
                            term_months=12, repayment="annuity", target_amount=target,
                            max_amount=max(target, count * amount), min_pledge=1_00, raised_amount=count * amount,
                            backers_count=count, reserved_amount=0, opens_at=NOW - timedelta(days=20),
                            closes_at=NOW - timedelta(minutes=5), status="live", risk_class="B",
                            created_at=NOW - timedelta(days=30), updated_at=NOW, sdg_links=[CampaignSdg(sdg=7)])
        db.session.add(campaign)
        db.session.flush()
        for n in range(count):
            pledge = Pledge(campaign_id=campaign.id, investor_id=investor.id, amount=amount, currency="EUR",
                            status="paid", payment_method="pm_card_visa", created_at=NOW - timedelta(days=10),
                            paid_at=NOW - timedelta(days=10), reflection_ends_at=None,
                            gateway_reference=f"pi_sbx_v_{uuid.uuid4().hex[:20]}", kiis_version=1)
            db.session.add(pledge)
            db.session.flush()
            ledger.post_pledge_paid(pledge, now=NOW - timedelta(days=10))
            if n % 500 == 499:
                db.session.commit()
    db.session.commit()


def run_due(url: str, journal: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "SANDBOX_JOURNAL": journal, "MAIL_PORT": "9",
           "SCHEDULER_ENABLED": "false"}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run-due", "--now",
                             NOW.isoformat()], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def movements(journal: str, op: str) -> tuple[int, int]:
    """(money movements made, calls made) of one kind, across every process."""
    with sqlite3.connect(journal) as conn:
        made = conn.execute("SELECT count(*) FROM movements WHERE op = ?", (op,)).fetchone()[0]
        calls = conn.execute("SELECT count(*) FROM attempts WHERE op = ?", (op,)).fetchone()[0]
    conn.close()
    return made, calls


def assert_books_balance() -> None:
    entries = ledger.LedgerEntry
    unbalanced = db.session.execute(select(entries.transaction_id).group_by(entries.transaction_id)
                                    .having(func.sum(entries.amount) != 0)).all()
    assert unbalanced == []


def test_three_processes_close_refund_and_pay_out_every_round_exactly_once(pg):
    app, url, journal = pg
    with app.app_context():
        # 100 rounds that reached their target, 100 that did not; 3 pledges of 100.00 each
        seed([(300_00, 3, 100_00)] * 100 + [(1_000_00, 3, 100_00)] * 100)
    processes = [run_due(url, journal) for _ in range(3)]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    with app.app_context():
        statuses = dict(db.session.execute(select(Campaign.status, func.count()).group_by(Campaign.status)).all())
        assert statuses == {"repaying": 100, "failed": 100}
        closes = db.session.execute(select(AuditEntry.subject_id, func.count()).where(
            AuditEntry.action.in_(["campaign.succeed", "campaign.fail"])).group_by(AuditEntry.subject_id)).all()
        assert len(closes) == 200 and {count for _, count in closes} == {1}
        assert db.session.scalar(select(func.count()).select_from(Payout).where(Payout.status == "sent")) == 100
        pledge_states = dict(db.session.execute(select(Pledge.status, func.count()).group_by(Pledge.status)).all())
        assert pledge_states == {"settled": 300, "refunded": 300}
        for campaign in db.session.scalars(select(Campaign)):
            assert ledger.escrow_balance(campaign.id) == 0
        assert_books_balance()
    assert movements(journal, "refund")[0] == 300
    assert movements(journal, "payout")[0] == 100
    assert sum(int(m) for out in outputs for m in re.findall(r"^  close rounds: (\d+) done", out, re.M)) == 200


def test_a_refund_sweep_killed_midway_is_finished_by_the_next_one(pg):
    app, url, journal = pg
    with app.app_context():
        seed([(100_000_000_00, 5_000, 10_00)])  # one failed round of 5,000 paid pledges
    first = run_due(url, journal)
    deadline = time.monotonic() + 300
    while movements(journal, "refund")[0] < 300 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    done_before = movements(journal, "refund")[0]
    assert 0 < done_before < 5_000, "the first sweep should have been killed part-way"
    second = run_due(url, journal)
    output = second.communicate(timeout=600)[0]
    assert second.returncode == 0, output
    made, calls = movements(journal, "refund")
    assert made == 5_000  # every pledge refunded exactly once
    # At most the batch in flight at the kill (claimed, refunded at the gateway, not yet
    # committed) was asked again, with the same keys: the sweep records a batch per commit.
    assert calls <= 5_000 + BATCH_SIZE
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Pledge).where(Pledge.status == "refunded")) == 5_000
        campaign = db.session.scalar(select(Campaign))
        assert ledger.escrow_balance(campaign.id) == 0
        assert_books_balance()
