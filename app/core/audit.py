"""The append-only audit log: who did what to which record, when and from where."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now as clock_now
from app.core.types import UTCDateTime
from app.extensions import db


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
    """Add an audit entry to the current transaction (the caller's commit keeps it).

    ``subject`` may be a model instance; its table name and id are recorded.
    """
    if subject is not None:
        subject_type = subject_type or getattr(subject, "audit_type", subject.__tablename__)
        subject_id = subject.id
    entry = AuditEntry(
        created_at=at or clock_now(),
        actor_id=getattr(actor, "id", None),
        action=action,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        ip_address=ip_address,
        details=details or {},
    )
    db.session.add(entry)
    return entry
