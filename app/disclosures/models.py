"""What the operator discloses as expected: the default rate per risk class and its assumptions."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime
from app.extensions import db


class ExpectedDefaultRate(db.Model):
    """ECSP Art. 20(1): the expected default rate of each risk class, set by the operator with
    the assumptions behind it; compared with the actual rate every year."""

    __tablename__ = "expected_default_rates"
    __table_args__ = (CheckConstraint("expected_default_rate_bps BETWEEN 0 AND 10000", name="rate_in_range"),)
    audit_type = "expected_default_rate"

    risk_class: Mapped[str] = mapped_column(String(1), primary_key=True)
    expected_default_rate_bps: Mapped[int] = mapped_column(Integer)
    assumptions: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def id(self) -> str:
        """The audit log names the row by its risk class."""
        return self.risk_class
