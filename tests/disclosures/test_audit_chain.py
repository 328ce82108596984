"""The tamper-evident audit log: the chain, ``flask audit verify``, and the migration's backfill."""

import json
from datetime import UTC, datetime
from itertools import pairwise

from flask_migrate import upgrade
from sqlalchemy import select, text

from app import create_app
from app.core.audit import (
    DEFERRED,
    GENESIS_HASH,
    AuditEntry,
    audit,
    audit_deferred,
    entry_digest,
    seal_pending,
    verify_chain,
)
from app.extensions import db
from app.jobs.registry import run_due
from tests.factories import NOW, UserFactory


def _entries() -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _write(n: int, **kwargs) -> None:
    user = UserFactory()
    for i in range(n):
        audit("test.event", actor=user, subject=user, ip_address="203.0.113.9",
              details={"i": i, "note": "Grüße", "nested": {"b": 1, "a": [1.5, None]}}, **kwargs)
        db.session.commit()


def test_each_entry_carries_the_hash_of_the_one_before():
    _write(3)
    entries = _entries()
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in pairwise(entries):
        assert after.prev_hash == before.entry_hash
    for entry in entries:
        row = {c: getattr(entry, c) for c in ("created_at", "actor_id", "action", "subject_type", "subject_id",
                                              "ip_address", "details")}
        assert entry.entry_hash == entry_digest(entry.prev_hash, row)
        assert len(entry.entry_hash) == 64


def test_entries_of_one_transaction_are_chained_in_the_order_written():
    user = UserFactory()
    for i in range(4):
        audit("test.batch", actor=user, details={"i": i})
    db.session.flush()
    assert {e.seq for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "test.batch"))} == {None}
    db.session.commit()
    batch = [e for e in _entries() if e.action == "test.batch"]
    assert [e.details["i"] for e in batch] == [0, 1, 2, 3]
    assert batch[1].prev_hash == batch[0].entry_hash


def test_a_rolled_back_entry_leaves_no_gap():
    _write(1)
    audit("test.discarded")
    db.session.flush()
    db.session.rollback()
    _write(1)
    assert verify_chain(db.session.connection()).ok


def test_verify_passes_on_an_intact_chain(runner):
    _write(5)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    count = len(_entries())
    assert f"Verified {count} audit entries" in result.output


def test_verify_passes_on_an_empty_log(runner):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "Verified 0 audit entries" in result.output


def test_an_edited_row_is_named_by_verify(runner):
    _write(5)
    victim = _entries()[2]
    # Straight to the database, around the ORM's append-only guard.
    db.session.execute(text("UPDATE audit_log SET action = 'nothing.happened' WHERE id = :id"), {"id": victim.id})
    db.session.commit()
    result = runner.invoke(args=["audit", "verify", "--batch-size", "2"])
    assert result.exit_code == 1
    assert f"Audit entry {victim.id} (seq {victim.seq}) is broken" in result.output
    assert "does not match the entry's contents" in result.output


def test_an_edit_that_recomputes_the_row_hash_breaks_the_next_link(runner):
    _write(4)
    victim, following = _entries()[1], _entries()[2]
    forged = {"created_at": victim.created_at, "actor_id": victim.actor_id, "action": victim.action,
              "subject_type": victim.subject_type, "subject_id": victim.subject_id, "ip_address": "10.0.0.1",
              "details": victim.details}
    db.session.execute(text("UPDATE audit_log SET ip_address = '10.0.0.1', entry_hash = :h WHERE id = :id"),
                       {"h": entry_digest(victim.prev_hash, forged), "id": victim.id})
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"Audit entry {following.id} " in result.output
    assert "prev_hash" in result.output


def test_a_deleted_row_is_noticed(runner):
    _write(4)
    victim, following = _entries()[1], _entries()[2]
    db.session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": victim.id})
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"Audit entry {following.id} " in result.output
    assert "missing" in result.output


def test_a_row_inserted_around_audit_is_noticed(runner):
    _write(2)
    db.session.execute(text("INSERT INTO audit_log (created_at, action, details) VALUES (:t, 'forged', '{}')"),
                       {"t": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)})
    db.session.commit()
    forged = db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "forged"))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"Audit entry {forged} (no seq)" in result.output


def test_a_deferred_entry_waits_for_a_sealer_while_ordinary_commits_chain_only_their_own():
    """An ordinary commit may hold a hot campaign row: it never drains the deferred backlog."""
    user = UserFactory()
    audit_deferred("pledge.created", actor=user)
    db.session.commit()
    deferred = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "pledge.created")).one()
    assert (deferred.seq, deferred.prev_hash) == (None, DEFERRED)
    report = verify_chain(db.session.connection())
    assert report.ok and report.pending == 1
    audit("test.event", actor=user)
    db.session.commit()
    db.session.refresh(deferred)
    assert (deferred.seq, deferred.prev_hash) == (None, DEFERRED)
    assert verify_chain(db.session.connection()).pending == 1
    assert seal_pending() == 1
    db.session.refresh(deferred)
    assert deferred.seq is not None and deferred.prev_hash != DEFERRED
    report = verify_chain(db.session.connection())
    assert report.ok and report.pending == 0 and report.verified == len(_entries())


def test_a_jobs_pass_chains_deferred_entries():
    audit_deferred("pledge.created", actor=UserFactory())
    db.session.commit()
    run_due(NOW)
    assert [e.seq for e in _entries()] == list(range(1, len(_entries()) + 1))
    assert verify_chain(db.session.connection()).pending == 0


def test_verify_chains_deferred_entries_first(runner):
    _write(2)
    audit_deferred("pledge.created")
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Chained 1 deferred audit entries." in result.output
    assert f"Verified {len(_entries())} audit entries" in result.output


def test_the_migration_chains_existing_entries(tmp_path):
    """Rows written before the chain existed are chained by the migration, in id order."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite'}"})
    with app.app_context():
        upgrade(revision="20261125_loans")
        with db.engine.begin() as conn:
            for i in range(2500):  # more than one migration batch
                conn.execute(text("INSERT INTO audit_log (created_at, action, subject_type, subject_id, details) "
                                  "VALUES (:t, 'old.event', 'thing', :i, :d)"),
                             {"t": f"2025-01-01 00:00:{i % 60:02d}.{i:06d}", "i": str(i), "d": json.dumps({"i": i})})
        upgrade(revision="20261125_audit_chain")
        with db.engine.connect() as conn:
            report = verify_chain(conn)
            assert report.ok and report.verified == 2500
            seqs = conn.execute(text("SELECT seq FROM audit_log ORDER BY id")).scalars().all()
            assert seqs == list(range(1, 2501))
        audit("new.event")
        db.session.commit()
        with db.engine.connect() as conn:
            assert verify_chain(conn).verified == 2501
        db.session.remove()
        db.engine.dispose()
