"""Scratch PostgreSQL databases for the benchmarks: made fresh, dropped afterwards."""

import re
from collections.abc import Callable


def psycopg_url(url: str) -> str:
    """The SQLAlchemy URL for psycopg 3, whatever ``postgres://`` spelling was given."""
    return re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql+psycopg://", url)


def scratch_database(admin_url: str, name: str) -> tuple[str, Callable[[], None]]:
    """Drop and create the database ``name`` through ``admin_url``; its URL and a function that drops it."""
    from sqlalchemy import create_engine, text

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit("a scratch database name must be a plain lower-case identifier")
    admin = create_engine(psycopg_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return psycopg_url(admin_url).rsplit("/", 1)[0] + "/" + name, drop
