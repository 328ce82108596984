"""Queue and send notifications."""

import smtplib
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from flask import current_app
from flask_babel import LazyString, force_locale
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects import sqlite

from app.extensions import db
from app.notifications.models import OutboxMessage

MAX_ATTEMPTS = 5


def enqueue(user: Any, *, kind: str, subject: str | LazyString, body: str | LazyString, dedupe_key: str,
            now: datetime) -> OutboxMessage | None:
    """Queue an e-mail in the caller's transaction; a second call with the same key is ignored.

    A subject or body given as ``lazy_gettext(...)`` is written in the user's language
    (``User.locale``), whatever language the request or job that queues it runs in.
    """
    if user is None or not getattr(user, "email", None):
        return None
    existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    with force_locale(getattr(user, "locale", None) or "en"):
        subject, body = str(subject), str(body)
    message = OutboxMessage(user_id=user.id, to_address=user.email, kind=kind, subject=subject[:200], body=body,
                            dedupe_key=dedupe_key, created_at=now, attempts=0)
    db.session.add(message)
    db.session.flush()
    return message


_COLUMNS = ("user_id", "to_address", "kind", "subject", "body", "dedupe_key")
#: SQLite: ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING``, one executemany.
_INSERT_IGNORING_SQLITE = sqlite.insert(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"])
#: PostgreSQL: the same from one array per column (one statement, no per-row round trip).
_INSERT_IGNORING_PG = text("""
INSERT INTO outbox (user_id, to_address, kind, subject, body, dedupe_key, created_at, attempts)
SELECT m.user_id, m.to_address, m.kind, m.subject, m.body, m.dedupe_key, :now, 0
FROM unnest(CAST(:user_id AS integer[]), CAST(:to_address AS text[]), CAST(:kind AS text[]),
            CAST(:subject AS text[]), CAST(:body AS text[]), CAST(:dedupe_key AS text[]))
     AS m(user_id, to_address, kind, subject, body, dedupe_key)
ON CONFLICT (dedupe_key) DO NOTHING
""").bindparams(bindparam("now", type_=OutboxMessage.__table__.c.created_at.type))


def enqueue_many(messages: list[dict[str, Any]], *, now: datetime) -> None:
    """Queue many e-mails in the caller's transaction in one statement; each is a dict of
    ``user_id, to_address, kind, subject, body, dedupe_key``. As ``enqueue``: a message
    without an address is not queued, and a key queued before is ignored."""
    rows = [message for message in messages if message.get("to_address")]
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(_INSERT_IGNORING_PG, {"now": now} | {c: [row[c] for row in rows] for c in _COLUMNS})
    else:
        db.session.execute(_INSERT_IGNORING_SQLITE, [row | {"created_at": now, "attempts": 0} for row in rows])


def send(message: OutboxMessage, *, now: datetime) -> None:
    """Send one message over SMTP; on failure count the attempt and keep it queued."""
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email.set_content(message.body)
    message.attempts += 1
    try:
        with smtplib.SMTP(current_app.config["MAIL_SERVER"], current_app.config["MAIL_PORT"], timeout=10) as smtp:
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        message.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if message.attempts >= MAX_ATTEMPTS:
            current_app.logger.error("Giving up on outbox message %s: %s", message.id, message.last_error)
        return
    message.sent_at = now
    message.last_error = None
