"""A funded loan, its instalments and each investor's share of every paid instalment."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.types import UTCDateTime, one_of
from app.extensions import db


class LoanStatus(StrEnum):
    ACTIVE = "active"
    OVERDUE = "overdue"
    DEFAULTED = "defaulted"
    COMPLETED = "completed"


class InstalmentStatus(StrEnum):
    SCHEDULED = "scheduled"  # not yet due
    DUE = "due"  # the owner has been asked to pay
    OVERDUE = "overdue"  # unpaid 30 days (configurable) after the due date
    PAID = "paid"




class Loan(db.Model):
    __tablename__ = "loans"
    __table_args__ = (
        CheckConstraint("principal > 0", name="principal_positive"),
        one_of("status", LoanStatus, "status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: One loan per funded campaign: the unique key makes a repeated payout harmless.
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), unique=True)
    principal: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    interest_rate_bps: Mapped[int] = mapped_column(Integer)
    term_months: Mapped[int] = mapped_column(Integer)
    repayment: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default=LoanStatus.ACTIVE.value, index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    defaulted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    instalments: Mapped[list["Instalment"]] = relationship(
        back_populates="loan", order_by="Instalment.number", lazy="selectin", cascade="all, delete-orphan"
    )


class Instalment(db.Model):
    __tablename__ = "instalments"
    __table_args__ = (
        UniqueConstraint("loan_id", "number", name="loan_number"),
        CheckConstraint("principal >= 0 AND interest >= 0", name="parts_not_negative"),
        one_of("status", InstalmentStatus, "status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    principal: Mapped[int] = mapped_column(BigInteger)  # minor units
    interest: Mapped[int] = mapped_column(BigInteger)  # minor units
    status: Mapped[str] = mapped_column(String(10), default=InstalmentStatus.SCHEDULED.value, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payment_reference: Mapped[str | None] = mapped_column(String(100))

    loan: Mapped[Loan] = relationship(back_populates="instalments")

    @property
    def total(self) -> int:
        return self.principal + self.interest


class InstalmentShare(db.Model):
    """What one pledge received of one paid instalment (largest-remainder split)."""

    __tablename__ = "instalment_shares"
    __table_args__ = (
        UniqueConstraint("instalment_id", "pledge_id", name="instalment_pledge"),
        CheckConstraint("principal >= 0 AND interest >= 0", name="parts_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instalment_id: Mapped[int] = mapped_column(ForeignKey("instalments.id", ondelete="CASCADE"), index=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"), index=True)
    investor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    fund_id: Mapped[int | None] = mapped_column(ForeignKey("funds.id"), index=True)
    principal: Mapped[int] = mapped_column(BigInteger)  # minor units
    interest: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime())
