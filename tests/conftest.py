"""Test fixtures: one migrated database per run, one rolled-back transaction per test.

The suite runs on SQLite by default and on PostgreSQL when ``TEST_DATABASE_URL`` is
set. The schema is built with the migrations (``flask db upgrade``), never with
``create_all``, so every run also proves the migrations.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db, limiter

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("TEST_DATABASE_URL")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the translation catalogs, so a bare ``pytest`` sees the Russian pages too."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in Path(__file__).parent.parent.glob("app/translations/*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """PostgreSQL-only tests skip without PostgreSQL locally, and fail in CI.

    CI runs the SQLite pass with ``-m "not postgres"`` and the PostgreSQL pass with
    everything, so a skipped PostgreSQL test can never hide there.
    """
    if "postgres" in item.keywords and not PG_URL:
        if IN_CI:
            pytest.fail("CI=true: this PostgreSQL test must run; set TEST_DATABASE_URL")
        pytest.skip("set TEST_DATABASE_URL to run PostgreSQL tests")


def reset_postgres_schema(url: str) -> None:
    engine = create_engine(re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        reset_postgres_schema(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


class IsolatedClient(FlaskClient):
    """A test client whose requests do not share ``g`` with each other or the test.

    Tests keep an app context pushed (for factories), and Flask reuses it for
    requests; without this, Flask-Login's cached user would leak across requests.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": create_app_url(database_url)})
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade(revision="heads")
        yield app
        db.engine.dispose()


def create_app_url(url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


@pytest.fixture(autouse=True)
def _transaction(app: Flask) -> Iterator[None]:
    """Bind the session to a connection inside a transaction and roll it back afterwards.

    The session joins with SAVEPOINTs (``join_transaction_mode="create_savepoint"``),
    so code under test may commit and roll back as it does in production.
    """
    engines = db.engines
    engine = engines[None]
    connection = engine.connect()
    outer = connection.begin()
    engines[None] = connection
    db.session.remove()
    limiter.reset()
    try:
        yield
    finally:
        db.session.remove()
        engines[None] = engine
        if outer.is_active:
            outer.rollback()
        connection.close()


class MailSink:
    """Collects every message sent over SMTP, like a developer's local sink."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def mail_sink(app: Flask) -> Iterator[MailSink]:
    """A local SMTP server for the whole run; the app sends its outbox there."""
    import socket

    from aiosmtpd.controller import Controller

    sink = MailSink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield sink
    controller.stop()


@pytest.fixture(autouse=True)
def _mail(mail_sink: MailSink) -> Iterator[MailSink]:
    mail_sink.messages.clear()
    yield mail_sink


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def post_form(client: FlaskClient, url: str, data: dict, *, page: str | None = None, **kwargs):
    """Submit a form the way a browser does: load the page, take its CSRF token, post."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={**data, "csrf_token": csrf_from(html)}, **kwargs)


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = "correct horse battery"):
        return post_form(self.client, "/login", {"email": email, "password": password})

    def logout(self):
        html = self.client.get("/").get_data(as_text=True)
        return self.client.post("/logout", data={"csrf_token": csrf_from(html)})


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def api_token(client: FlaskClient):
    """Return a function that issues a bearer header for an e-mail and password."""

    def issue(email: str, password: str = "correct horse battery") -> dict[str, str]:
        response = client.post("/api/v1/tokens", json={"email": email, "password": password})
        assert response.status_code == 201, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    return issue


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).parent / "data"
