"""Bulk writes (``COPY`` on PostgreSQL) store what an INSERT stores and fail like one."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core import bulk
from app.core.audit import DEFERRED, AuditEntry
from app.extensions import db
from app.payments import ledger

AT = datetime(2027, 1, 6, 9, 30, tzinfo=timezone(timedelta(hours=2)))


def test_rows_read_back_as_an_insert_stores_them():
    rows = [{"created_at": AT, "action": "bulk.test", "subject_type": "pledge", "subject_id": str(n),
             "details": {"reason": "ü ' \" \\ \t", "n": n, "nested": [1, None]}, "prev_hash": DEFERRED}
            for n in range(3)]
    bulk.insert_rows(AuditEntry.__table__, rows)
    stored = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "bulk.test")
                                .order_by(AuditEntry.subject_id)).all()
    assert [(e.subject_id, e.details, e.created_at) for e in stored] == [
        (str(n), {"reason": "ü ' \" \\ \t", "n": n, "nested": [1, None]}, AT.astimezone(UTC)) for n in range(3)]


def test_a_duplicate_key_is_an_integrity_error_and_the_transaction_goes_on():
    transactions = ledger.LedgerTransaction.__table__
    row = {"idempotency_key": "bulk-test-1", "description": "d", "created_at": AT}
    bulk.insert_rows(transactions, [row])
    with pytest.raises(IntegrityError), db.session.begin_nested():
        bulk.insert_rows(transactions, [row | {"idempotency_key": "bulk-test-2"}, row])
    keys = db.session.scalars(select(ledger.LedgerTransaction.idempotency_key)
                              .where(ledger.LedgerTransaction.idempotency_key.like("bulk-test-%"))).all()
    assert keys == ["bulk-test-1"]


@pytest.mark.postgres
def test_new_ids_are_fresh_and_distinct():
    transactions = ledger.LedgerTransaction.__table__
    ids = bulk.new_ids(transactions, 50)
    assert len(set(ids)) == 50
    bulk.insert_rows(transactions, [{"id": i, "idempotency_key": f"bulk-id-{i}", "description": "d",
                                     "created_at": AT} for i in ids])
    later = ledger.post("after", [(ledger.gateway_clearing("EUR"), 5), (ledger.platform_fees("EUR"), -5)],
                        now=AT, idempotency_key="bulk-id-after")
    assert later.id not in ids
