"""A complaint and the operator's decision on it."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime, one_of
from app.extensions import db


class ComplaintStatus(StrEnum):
    RECEIVED = "received"
    RESOLVED = "resolved"


class Decision(StrEnum):
    UPHELD = "upheld"
    REJECTED = "rejected"


class Complaint(db.Model):
    __tablename__ = "complaints"
    __table_args__ = (
        one_of("status", ComplaintStatus, "status_known"),
        one_of("decision", Decision, "decision_known"),
    )
    audit_type = "complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What the complainant quotes ("C-2027-00042"), made from the id.
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    complainant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The deadline the acknowledgement promised (``COMPLAINT_RESPONSE_DAYS`` after receipt).
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    decision: Mapped[str | None] = mapped_column(String(20))
    response: Mapped[str | None] = mapped_column(Text)
    responded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
