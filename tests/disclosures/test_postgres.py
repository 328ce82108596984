"""PostgreSQL only: the COPY export path and concurrent appends to the audit chain."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert, text

from app import create_app
from app.core.audit import audit, verify_chain
from app.disclosures import exports
from app.extensions import db
from app.payments.models import Pledge

pytestmark = pytest.mark.postgres


def test_the_copy_export_matches_the_portable_one(client, api_token, people):
    campaign, investor = people["campaign"], people["investor"]
    start = datetime(2026, 2, 1, 23, 30, 15, 123456, tzinfo=UTC)
    db.session.execute(insert(Pledge), [
        {"campaign_id": campaign.id, "investor_id": investor.id, "amount": 10_00 + i, "currency": "EUR",
         "status": "paid" if i % 3 else "pending_payment", "payment_method": "pm_card_visa",
         "created_at": start + timedelta(minutes=i), "paid_at": (start + timedelta(minutes=i)) if i % 3 else None,
         "kiis_version": 1}
        for i in range(3000)
    ])
    db.session.commit()
    assert db.engine.dialect.name == "postgresql"
    response = client.get("/api/v1/disclosures/exports/pledges.csv?from=2026-02-01&to=2026-02-02",
                          headers=api_token("regulator@example.org"))
    by_copy = response.get_data()
    rng = exports.DateRange(datetime(2026, 2, 1).date(), datetime(2026, 2, 2).date())
    portable = b"".join(exports._pledges_by_select(db.session.connection(), rng))
    assert by_copy == portable
    lines = by_copy.decode().splitlines()
    expected = sum(1 for i in range(3000) if start + timedelta(minutes=i) < datetime(2026, 2, 3, tzinfo=UTC))
    assert len(lines) == 1 + expected
    assert lines[1].startswith(f"{lines[1].split(',')[0]},2026-02-01T23:30:15Z,,")


@pytest.fixture
def committed_app(app):
    """A second app on its own engine: what it commits is really committed (and removed afterwards)."""
    other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    with other.app_context():
        high_water = db.session.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar()
        db.session.rollback()
    yield other
    with other.app_context():
        db.session.execute(text("DELETE FROM audit_log WHERE id > :id"), {"id": high_water})
        db.session.commit()
        db.engine.dispose()


def test_concurrent_appends_keep_one_unbroken_chain(committed_app):
    threads, per_thread = 8, 15
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with committed_app.app_context():
                    audit("test.concurrent", details={"thread": n, "i": i})
                    # A second entry in the same transaction, flushed early: rows of concurrent
                    # transactions interleave by id, yet the chain stays linear.
                    db.session.flush()
                    audit("test.concurrent", details={"thread": n, "i": i, "second": True})
                    db.session.commit()
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert errors == []
    engine = create_engine(committed_app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as conn:
            report = verify_chain(conn, batch_size=7)
            assert report.ok, report
            assert report.verified >= threads * per_thread * 2
            count = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'test.concurrent' "
                                      "AND seq IS NOT NULL")).scalar()
            assert count == threads * per_thread * 2
    finally:
        engine.dispose()


def test_the_chain_lock_is_an_advisory_transaction_lock(committed_app):
    """Held from sealing until the commit, then gone (no session-level lock left on a pooled connection)."""
    from app.core.audit import CHAIN_LOCK_ID

    with committed_app.app_context():
        audit("test.lock")
        db.session.flush()
        conn = db.session.connection()
        from app.core.audit import seal

        seal(conn, [db.session.execute(text("SELECT max(id) FROM audit_log")).scalar()])
        held = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                                 "pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = :k"),
                            {"k": CHAIN_LOCK_ID}).scalar()
        assert held == 1
        db.session.commit()
        left = db.session.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                                       "pg_backend_pid()")).scalar()
        assert left == 0
        db.session.rollback()
