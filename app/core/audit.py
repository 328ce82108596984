"""The append-only, tamper-evident audit log: who did what to which record, when and from where.

Every entry carries ``prev_hash`` and ``entry_hash = SHA-256(canonical(prev_hash,
created_at, actor_id, action, subject_type, subject_id, ip_address, details))``, so
changing, removing or inserting a row anywhere but at the head breaks the chain, and
``flask audit verify`` names the first broken entry.

How an entry joins the chain (``seal``): ``audit()`` only adds the row to the session,
as before; it is inserted at flush with its hashes empty. When the session commits,
``seal`` takes the chain lock, reads the chain's head and fills ``seq``, ``prev_hash``
and ``entry_hash`` of this transaction's rows from their stored values. The lock is
``pg_advisory_xact_lock`` on PostgreSQL (released by the commit itself); SQLite already
serialises writers with ``BEGIN IMMEDIATE``. Sealing at commit, rather than at the first
flush, keeps the lock for milliseconds and makes it the last lock a transaction takes,
so it can neither deadlock with row locks nor wait behind a slow gateway call.

Because transactions commit in another order than they insert, the chain's order is
``seq`` (assigned under the lock, unique), not ``id``.

Deferred entries (``audit_deferred``): the chain lock is one mutex for the whole
platform, so the pledge hot path, which already holds the hot campaign row, does not
take it. Its entries are inserted at once with ``prev_hash = DEFERRED`` and chained by
every jobs pass (``seal_pending``, at most one scheduler interval later) and by ``flask
audit verify``, never by an ordinary commit, which may itself hold a hot campaign row.
The marker tells them from a row written around ``audit()``, which no sealer picks up and
which ``verify`` still reports.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    String,
    bindparam,
    cast,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core import bulk
from app.core.clock import as_utc
from app.core.clock import now as clock_now
from app.core.types import UTCDateTime
from app.extensions import db

#: ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64
#: Key of the PostgreSQL advisory lock that serialises appends to the chain ("GRAUDIT").
CHAIN_LOCK_ID = 0x47524155444954
_UNSEALED_KEY = "audit_unsealed_ids"
#: ``prev_hash`` of an entry written with ``seal_later`` until a sealer chains it.
DEFERRED = "deferred"


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(80), index=True)
    #: The kind of record acted on ("user", "campaign", "pledge", ...), with its id.
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Position in the hash chain (1, 2, ...), assigned at commit under the chain lock.
    #: Empty only inside the transaction that inserted the row.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    #: ``entry_hash`` of the entry at ``seq - 1`` (``GENESIS_HASH`` for the first).
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    #: SHA-256 (hex) of this entry's canonical serialisation; see ``entry_digest``.
    entry_hash: Mapped[str | None] = mapped_column(String(64))


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_changes(mapper, connection, target) -> None:
    raise RuntimeError("The audit log is append-only")


def audit(
    action: str,
    *,
    actor: Any = None,
    subject: Any = None,
    subject_type: str | None = None,
    subject_id: Any = None,
    ip_address: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add an audit entry to the current transaction (the caller's commit keeps it and chains it).

    ``subject`` may be a model instance; its table name and id are recorded.
    """
    entry = AuditEntry(**_values(action, actor, subject, subject_type, subject_id, ip_address, details, at))
    db.session.add(entry)
    return entry


_INSERT_DEFERRED = insert(AuditEntry.__table__).values(prev_hash=DEFERRED)


def audit_deferred(
    action: str,
    *,
    actor: Any = None,
    subject: Any = None,
    subject_type: str | None = None,
    subject_id: Any = None,
    ip_address: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Insert an audit entry now, leaving its chaining to the next sealer (the module's docstring).

    For hot paths that must neither take the chain lock nor pay for the ORM's unit of work:
    one prepared INSERT in the caller's transaction, which keeps or discards it.
    """
    db.session.execute(_INSERT_DEFERRED, _values(action, actor, subject, subject_type, subject_id, ip_address,
                                                 details, at))


def deferred_insert_from(source: Any, subject_type: str, subject_id: Any) -> Any:
    """A deferred entry's INSERT that takes its subject's id from ``source`` (a CTE), so one
    PostgreSQL statement can write a row and its audit entry together. Bind it with
    ``deferred_params``; no row in ``source``, no entry."""
    table = AuditEntry.__table__
    row = select(*(bindparam(f"audit_{name}", type_=table.c[name].type)
                   for name in ("created_at", "actor_id", "action", "ip_address", "details")),
                 literal(subject_type, String), cast(subject_id, String), literal(DEFERRED, String)).select_from(source)
    return insert(table).from_select(
        ["created_at", "actor_id", "action", "ip_address", "details", "subject_type", "subject_id", "prev_hash"], row)


def audit_deferred_many(action: str, subjects: Iterable[tuple[str, Any, dict[str, Any] | None]], *,
                        at: datetime) -> None:
    """Insert deferred entries of one action in one executemany, one per ``(subject_type,
    subject_id, details)``: ``audit_deferred`` for a batch (the same rows, chained by the next sealer)."""
    rows = [_values(action, None, None, subject_type, subject_id, None, details, at)
            for subject_type, subject_id, details in subjects]
    bulk.insert_rows(AuditEntry.__table__, [row | {"prev_hash": DEFERRED} for row in rows])


def deferred_params(action: str, *, actor: Any = None, ip_address: str | None = None,
                    details: dict[str, Any] | None = None, at: datetime | None = None) -> dict[str, Any]:
    """The parameters of ``deferred_insert_from``."""
    values = _values(action, actor, None, None, None, ip_address, details, at)
    return {f"audit_{name}": values[name] for name in ("created_at", "actor_id", "action", "ip_address", "details")}


def _values(action: str, actor: Any, subject: Any, subject_type: str | None, subject_id: Any,
            ip_address: str | None, details: dict[str, Any] | None, at: datetime | None) -> dict[str, Any]:
    if subject is not None:
        subject_type = subject_type or getattr(subject, "audit_type", subject.__tablename__)
        subject_id = subject.id
    return {"created_at": at or clock_now(), "actor_id": getattr(actor, "id", None), "action": action,
            "subject_type": subject_type, "subject_id": None if subject_id is None else str(subject_id),
            "ip_address": ip_address, "details": details or {}}


# --- the hash chain ----------------------------------------------------------------------

#: The stored columns the hash covers, in canonical order.
HASHED_COLUMNS = ("created_at", "actor_id", "action", "subject_type", "subject_id", "ip_address", "details")


def canonical(prev_hash: str, row: Mapping[str, Any]) -> bytes:
    """The canonical serialisation an entry's hash is taken over.

    A JSON array ``[prev_hash, created_at, actor_id, action, subject_type, subject_id,
    ip_address, details]``: ``created_at`` as UTC ISO 8601 with microseconds, ``details``
    with sorted keys, no insignificant whitespace, UTF-8. It is computed from the values
    as stored and read back, so sealing and verifying see exactly the same input.
    """
    created_at = row["created_at"]
    stamp = as_utc(created_at).isoformat(timespec="microseconds") if created_at is not None else None
    values = [prev_hash, stamp, row["actor_id"], row["action"], row["subject_type"], row["subject_id"],
              row["ip_address"], row["details"] if row["details"] is not None else {}]
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def entry_digest(prev_hash: str, row: Mapping[str, Any]) -> str:
    """``entry_hash`` of a row (any mapping with ``HASHED_COLUMNS``) that follows ``prev_hash``."""
    return hashlib.sha256(canonical(prev_hash, row)).hexdigest()


def _columns() -> list[Any]:
    table = AuditEntry.__table__
    return [table.c.id, table.c.seq, table.c.prev_hash, table.c.entry_hash] + [table.c[n] for n in HASHED_COLUMNS]


def take_chain_lock(connection: Any) -> None:
    """Serialise appends to the chain until this transaction ends (PostgreSQL; SQLite needs none)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_ID})


def chain_head(connection: Any) -> tuple[int, str]:
    """``(seq, entry_hash)`` of the newest sealed entry, or ``(0, GENESIS_HASH)``."""
    table = AuditEntry.__table__
    row = connection.execute(
        select(table.c.seq, table.c.entry_hash).where(table.c.seq.is_not(None)).order_by(table.c.seq.desc()).limit(1)
    ).first()
    if row is None:
        return 0, GENESIS_HASH
    return row.seq, row.entry_hash or ""


def seal(connection: Any, ids: Iterable[int] = (), *, deferred: bool = False) -> int:
    """Chain the unsealed entries among ``ids`` (and with ``deferred`` every deferred entry
    this transaction can see) after the head, in id order; returns how many.

    Call inside the transaction that inserted ``ids``; it takes the chain lock, which the
    transaction's end releases. Core statements, so the ORM's append-only guard stays on.
    A commit seals only its own entries: it may hold a hot campaign row, which must not
    wait while a backlog of deferred entries is chained (``seal_pending`` does that).
    """
    wanted = sorted(set(ids))
    if not wanted and not deferred:
        return 0
    take_chain_lock(connection)
    table = AuditEntry.__table__
    seq, prev = chain_head(connection)
    sealed = 0
    selections = [table.c.prev_hash == DEFERRED] if deferred else []
    selections += [table.c.id.in_(wanted[start:start + 500]) for start in range(0, len(wanted), 500)]
    for selection in selections:
        after = 0
        while True:
            rows = connection.execute(
                select(*_columns()).where(selection, table.c.seq.is_(None), table.c.id > after)
                .order_by(table.c.id).limit(500)
            ).mappings().all()
            if not rows:
                break
            for row in rows:
                seq += 1
                digest = entry_digest(prev, row)
                connection.execute(update(table).where(table.c.id == row["id"]).values(
                    seq=seq, prev_hash=prev, entry_hash=digest))
                prev = digest
                sealed += 1
            after = rows[-1]["id"]
    return sealed


def seal_pending() -> int:
    """Chain the deferred entries and commit; returns how many (jobs passes and ``verify`` call it)."""
    sealed = seal(db.session.connection(), deferred=True)
    db.session.commit()
    return sealed


@event.listens_for(Session, "after_flush")
def _remember_new_entries(session: Session, flush_context: Any) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, AuditEntry)]
    if ids:
        session.info.setdefault(_UNSEALED_KEY, set()).update(ids)


@event.listens_for(Session, "before_commit")
def _seal_on_commit(session: Session) -> None:
    if not session.info.get(_UNSEALED_KEY) and not any(isinstance(o, AuditEntry) for o in session.new):
        return
    session.flush()
    ids = session.info.pop(_UNSEALED_KEY, set())
    if ids:
        seal(session.connection(), ids)


@event.listens_for(Session, "after_transaction_end")
def _forget_on_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_UNSEALED_KEY, None)


# --- verification -------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: ``broken_id`` is None when every entry checked out."""

    verified: int
    head_seq: int
    head_hash: str
    broken_id: int | None = None
    broken_seq: int | None = None
    reason: str | None = None
    #: Deferred entries still waiting for a sealer (not a fault).
    pending: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def iter_chain(connection: Any, batch_size: int = 1000) -> Iterator[Mapping[str, Any]]:
    """Every sealed entry in chain order, in keyset batches: constant memory on any size."""
    table = AuditEntry.__table__
    after = 0
    while True:
        rows = connection.execute(
            select(*_columns()).where(table.c.seq > after).order_by(table.c.seq).limit(batch_size)
        ).mappings().all()
        if not rows:
            return
        yield from rows
        after = rows[-1]["seq"]


def verify_chain(connection: Any, batch_size: int = 1000) -> ChainReport:
    """Walk the chain from the first entry and stop at the first one that does not check out.

    An entry is broken when its ``seq`` is not the next number (a row was removed), its
    ``prev_hash`` is not the previous entry's hash (removed or reordered), or its
    ``entry_hash`` does not match its contents (edited). A committed row without a
    ``seq`` that is not a deferred entry was written around ``audit()`` and is reported
    too; deferred ones are counted as pending. Removing entries at the
    head cannot be seen from inside the chain: compare the printed head with a copy kept
    elsewhere.
    """
    table = AuditEntry.__table__
    expected_seq, prev, verified = 1, GENESIS_HASH, 0
    for row in iter_chain(connection, batch_size):
        reason = None
        if row["seq"] != expected_seq:
            reason = f"sequence number {row['seq']} follows {expected_seq - 1}: entries are missing"
        elif row["prev_hash"] != prev:
            reason = "prev_hash does not match the previous entry's hash"
        elif row["entry_hash"] != entry_digest(prev, row):
            reason = "entry_hash does not match the entry's contents"
        if reason:
            return ChainReport(verified, expected_seq - 1, prev, row["id"], row["seq"], reason)
        prev = row["entry_hash"]
        expected_seq += 1
        verified += 1
    unchained = table.c.seq.is_(None)
    written_around = or_(table.c.prev_hash.is_(None), table.c.prev_hash != DEFERRED)
    stray = connection.execute(
        select(table.c.id).where(unchained, written_around).order_by(table.c.id).limit(1)).first()
    if stray is not None:
        return ChainReport(verified, expected_seq - 1, prev, stray.id, None, "the entry was never chained")
    pending = connection.execute(select(func.count()).where(unchained, table.c.prev_hash == DEFERRED)).scalar()
    return ChainReport(verified, expected_seq - 1, prev, pending=pending or 0)
