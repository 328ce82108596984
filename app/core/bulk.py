"""Many rows into one table in the session's transaction: PostgreSQL's ``COPY`` where the batch
is large, an executemany elsewhere.

Why: a statement import or a failed round writes hundreds of thousands of ledger entries,
audit entries and lines. An executemany sends one statement per row (psycopg pipelines
them, but the server still plans and runs each), ``COPY`` streams them as one. Each value
goes through its column type's bind processor first, so the stored text is what an
``INSERT`` would have stored (UTC datetimes, JSON serialised by the engine's serializer).
"""

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db


def postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def insert_rows(table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``. A unique or foreign-key
    violation raises SQLAlchemy's ``IntegrityError`` on either database, so callers keep one
    ``except``."""
    if not rows:
        return
    if not postgresql():
        db.session.execute(insert(table), list(rows))
        return
    db.session.flush()
    columns = list(rows[0])
    dialect = db.session.get_bind().dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(name) for name in columns))
    cursor = db.session.connection().connection.dbapi_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[name] if process is None else process(row[name])
                                for name, process in zip(columns, processors, strict=True)])
    except psycopg.errors.IntegrityError as exc:
        raise IntegrityError(str(statement.as_string(cursor)), None, exc) from exc
    finally:
        cursor.close()


def new_ids(table: Table, count: int) -> list[int]:
    """``count`` fresh ids from the sequence behind ``table.id`` (PostgreSQL), for rows that
    ``insert_rows`` then writes with their ids: their children can be written in the same
    batch without a ``RETURNING`` round trip per row."""
    sequence = func.pg_get_serial_sequence(table.name, "id")
    return list(db.session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count))))
