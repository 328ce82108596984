"""Queue and send notifications."""

import smtplib
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.notifications.models import OutboxMessage

MAX_ATTEMPTS = 5


def enqueue(user: Any, *, kind: str, subject: str, body: str, dedupe_key: str, now: datetime) -> OutboxMessage | None:
    """Queue an e-mail in the caller's transaction; a second call with the same key is ignored."""
    if user is None or not getattr(user, "email", None):
        return None
    existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    message = OutboxMessage(user_id=user.id, to_address=user.email, kind=kind, subject=subject, body=body,
                            dedupe_key=dedupe_key, created_at=now, attempts=0)
    db.session.add(message)
    db.session.flush()
    return message


#: ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING`` per dialect, for ``enqueue_many``.
_INSERT_IGNORING = {name: dialect.insert(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"])
                    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}


def enqueue_many(messages: list[dict[str, Any]], *, now: datetime) -> None:
    """Queue many e-mails in the caller's transaction in one statement; each is a dict of
    ``user_id, to_address, kind, subject, body, dedupe_key``. As ``enqueue``: a message
    without an address is not queued, and a key queued before is ignored."""
    rows = [message | {"created_at": now, "attempts": 0} for message in messages if message.get("to_address")]
    if rows:
        db.session.execute(_INSERT_IGNORING[db.session.get_bind().dialect.name], rows)


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
