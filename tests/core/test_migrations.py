"""The migrations build the whole schema on an empty database and match the models."""

import os
import re
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db


def _fresh_database_url(tmp_path) -> tuple[str, callable]:
    pg = os.environ.get("TEST_DATABASE_URL")
    if not pg:
        return f"sqlite:///{tmp_path / 'empty.sqlite'}", lambda: None
    base = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", pg)
    name = f"greenround_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.rsplit("/", 1)[0] + "/" + name, drop


def test_upgrade_of_an_empty_database_matches_the_models(tmp_path):
    url, drop = _fresh_database_url(tmp_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            upgrade()
            with db.engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
                assert diff == [], f"models and migrations differ: {diff}"
                if conn.dialect.name == "sqlite":
                    assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
            db.engine.dispose()
    finally:
        drop()


@pytest.mark.postgres
def test_postgres_run_really_uses_postgres(app):
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"


def test_every_revision_id_fits_alembic_version_on_postgresql():
    """``alembic_version.version_num`` is VARCHAR(32): a longer id migrates on SQLite and fails
    on PostgreSQL (it did once)."""
    from pathlib import Path

    versions = Path(__file__).parents[2] / "migrations" / "versions"
    ids = {path.name: re.search(r"^revision = ['\"]([^'\"]+)['\"]", path.read_text(), re.M).group(1)
           for path in versions.glob("*.py")}
    assert {name: rev for name, rev in ids.items() if len(rev) > 32} == {}
