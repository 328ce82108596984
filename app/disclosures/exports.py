"""Streamed CSV exports: the pledge ledger and the audit log, with flat memory at any size.

Each export runs on its own connection, opened when the response body is first read
and closed when it is exhausted or the client goes away, so nothing holds the request's
session and no commit can kill the cursor mid-stream. On PostgreSQL the pledge ledger
is ``COPY (SELECT …) TO STDOUT`` read through psycopg and passed on in 64 KiB chunks:
the server formats the CSV and Python only moves bytes. Elsewhere (SQLite) rows come
from a ``yield_per`` cursor through ``csv.writer``; both paths produce the same bytes.
"""

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Engine, select

from app.core.audit import AuditEntry
from app.core.errors import ValidationFailed
from app.payments.models import Pledge

#: An export covers at most this many days (five years: ECSP Art. 26's record-keeping span).
MAX_RANGE_DAYS = 5 * 366
CHUNK_BYTES = 64 * 1024
ROWS_PER_FETCH = 1000

PLEDGE_COLUMNS = ("id", "created_at", "paid_at", "campaign_id", "investor_id", "fund_id", "amount", "currency",
                  "status", "kiis_version")
AUDIT_COLUMNS = ("seq", "id", "created_at", "actor_id", "action", "subject_type", "subject_id", "ip_address",
                 "details", "prev_hash", "entry_hash")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days ``first``..``last`` (inclusive), i.e. instants in ``[start, end)``."""

    first: date | None
    last: date | None

    @property
    def start(self) -> datetime | None:
        return None if self.first is None else datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime | None:
        return None if self.last is None else datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)

    def as_params(self) -> dict[str, str]:
        return {k: v.isoformat() for k, v in (("from", self.first), ("to", self.last)) if v is not None}


def parse_range(args: Mapping[str, str], *, required: bool, max_days: int | None = MAX_RANGE_DAYS) -> DateRange:
    """``from`` and ``to`` as ISO dates (YYYY-MM-DD, UTC days, both inclusive), or a 422 naming the field."""
    errors: dict[str, list[str]] = {}
    values: dict[str, date | None] = {}
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        values[name] = None
        if not raw:
            if required:
                errors[name] = [_("Required: a date as YYYY-MM-DD.")]
            continue
        try:
            if not _DATE.fullmatch(raw):
                raise ValueError(raw)
            values[name] = date.fromisoformat(raw)
        except ValueError:
            errors[name] = [_("Must be a date as YYYY-MM-DD.")]
    first, last = values["from"], values["to"]
    if not errors and first is not None and last is not None:
        if first > last:
            errors["to"] = [_("Must be on or after from.")]
        elif max_days is not None and (last - first).days + 1 > max_days:
            errors["to"] = [_("The range may cover at most %(days)s days.", days=max_days)]
    if errors:
        raise ValidationFailed(_("The date range is invalid."), errors)
    return DateRange(first, last)


def _connect(bind: Any) -> tuple[Any, bool]:
    """A connection of our own from an Engine; a Connection handed in (tests) is used as is."""
    if isinstance(bind, Engine):
        return bind.connect(), True
    return bind, False


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chunks(pieces: Iterator[bytes | memoryview]) -> Iterator[bytes]:
    """Gather small pieces into CHUNK_BYTES blocks: one WSGI write per block, not per row."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        if len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def pledge_copy_sql(rng: DateRange) -> Any:
    """The ``COPY (SELECT …) TO STDOUT`` the PostgreSQL export runs (the benchmark runs it bare too)."""
    from psycopg import sql

    where = [sql.SQL("TRUE")]
    if rng.start is not None:
        where.append(sql.SQL("created_at >= {}").format(sql.Literal(rng.start)))
    if rng.end is not None:
        where.append(sql.SQL("created_at < {}").format(sql.Literal(rng.end)))
    stamp = "to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS {col}"
    columns = [sql.SQL(stamp.format(col=c)) if c in ("created_at", "paid_at") else sql.Identifier(c)
               for c in PLEDGE_COLUMNS]
    return sql.SQL("COPY (SELECT {columns} FROM pledges WHERE {where} ORDER BY created_at, id) "
                   "TO STDOUT WITH (FORMAT csv, HEADER true)").format(
        columns=sql.SQL(", ").join(columns), where=sql.SQL(" AND ").join(where))


def _pledges_by_copy(connection: Any, rng: DateRange) -> Iterator[bytes | memoryview]:
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(pledge_copy_sql(rng)) as copy:
        yield from copy


def _pledges_by_select(connection: Any, rng: DateRange) -> Iterator[bytes]:
    table = Pledge.__table__
    statement = select(*[table.c[c] for c in PLEDGE_COLUMNS]).order_by(table.c.created_at, table.c.id)
    if rng.start is not None:
        statement = statement.where(table.c.created_at >= rng.start)
    if rng.end is not None:
        statement = statement.where(table.c.created_at < rng.end)
    result = connection.execute(statement, execution_options={"stream_results": True, "yield_per": ROWS_PER_FETCH})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PLEDGE_COLUMNS)
    for rows in result.partitions():
        writer.writerows((r[0], _stamp(r[1]), _stamp(r[2]), *r[3:]) for r in rows)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def pledges_csv(bind: Any, rng: DateRange) -> Iterator[bytes]:
    """The pledge ledger in ``rng`` as CSV bytes, ordered by time; memory stays flat at any size.

    ``bind`` is the Engine (or, in tests, the Connection) to read from; the generator
    opens its connection when first advanced and always closes it.
    """
    connection, owned = _connect(bind)
    finished = False
    try:
        if connection.dialect.name == "postgresql":
            yield from _chunks(_pledges_by_copy(connection, rng))
        else:
            yield from _chunks(_pledges_by_select(connection, rng))
        finished = True
    finally:
        if owned:
            if not finished:
                connection.invalidate()  # a COPY cut short leaves the connection mid-protocol
            connection.close()


def audit_csv(bind: Any, rng: DateRange) -> Iterator[bytes]:
    """The audit log in ``rng`` as CSV, in chain order, streamed like the pledge ledger."""
    table = AuditEntry.__table__
    statement = select(*[table.c[c] for c in AUDIT_COLUMNS]).order_by(table.c.seq.is_(None), table.c.seq,
                                                                         table.c.id)
    if rng.start is not None:
        statement = statement.where(table.c.created_at >= rng.start)
    if rng.end is not None:
        statement = statement.where(table.c.created_at < rng.end)

    def row(r: Any) -> list[Any]:
        m = r._mapping
        return [m["seq"], m["id"], m["created_at"].astimezone(UTC).isoformat(), m["actor_id"], m["action"],
                m["subject_type"], m["subject_id"], m["ip_address"],
                json.dumps(m["details"], sort_keys=True, ensure_ascii=False), m["prev_hash"], m["entry_hash"]]

    return csv_stream(bind, statement, AUDIT_COLUMNS, row)


def csv_stream(bind: Any, statement: Any, header: tuple[str, ...], row: Any) -> Iterator[bytes]:
    """``statement``'s rows as CSV bytes through ``row``, fetched ``ROWS_PER_FETCH`` at a time
    on a connection of the export's own (memory stays flat at any size)."""

    def pieces(connection: Any) -> Iterator[bytes]:
        result = connection.execute(statement, execution_options={"stream_results": True, "yield_per": ROWS_PER_FETCH})
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        yield buffer.getvalue().encode()
        for rows in result.partitions():
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(row(r) for r in rows)
            yield buffer.getvalue().encode()

    connection, owned = _connect(bind)
    try:
        yield from _chunks(pieces(connection))
    finally:
        if owned:
            connection.close()
