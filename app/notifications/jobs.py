"""The outbox sweep: send what is queued, last in every run."""

from datetime import datetime

from app.jobs.registry import Job
from app.notifications import services
from app.notifications.models import OutboxMessage


def _unsent(now: datetime):
    """Queued and not given up on; a failed send counts an attempt, so a dead SMTP
    server costs at most MAX_ATTEMPTS tries per message."""
    return OutboxMessage.sent_at.is_(None) & (OutboxMessage.attempts < services.MAX_ATTEMPTS)


send_outbox = Job("send e-mail", OutboxMessage, _unsent, lambda m, now: services.send(m, now=now))

JOBS = [send_outbox]
