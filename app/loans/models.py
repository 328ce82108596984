"""A funded loan, its instalments and each investor's share of every paid instalment.

``instalment_shares`` is the record; ``pledge_repayments`` and ``repayment_days`` are
running totals of it, kept by ``loans.services.receive`` in the same transaction, so that
a portfolio of thousands of holdings reads one row per holding (and one per day) instead
of summing every share it ever received.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
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
        CheckConstraint("charge_key IS NULL OR charge_payment_method IS NOT NULL", name="charge_claim_complete"),
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
    #: The claim of the owner's payment whose outcome is not recorded yet (NULL: none): its
    #: idempotency key and payment method, so that a later attempt repeats exactly that call
    #: before charging anew (``loans.services.pay_instalment``).
    charge_key: Mapped[str | None] = mapped_column(String(100))
    charge_payment_method: Mapped[str | None] = mapped_column(String(100))
    #: When that charge was claimed; NULL once its attempt ended without recording an
    #: outcome (a later attempt re-drives it at once), stale after ``CHARGE_CLAIM_TIMEOUT``.
    charge_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The charge key that paid it: the same API request again (same Idempotency-Key) answers
    #: with this payment instead of a 409.
    paid_key: Mapped[str | None] = mapped_column(String(100))
    #: The last day a collection by mandate was tried (one try per day, whichever scheduler).
    collection_attempted_on: Mapped[date | None] = mapped_column(Date)

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


class PledgeRepayment(db.Model):
    """What one holding has been repaid so far: the sum of its ``instalment_shares``.

    It is also the weight of the holding's next split (pledged minus principal repaid).
    """

    __tablename__ = "pledge_repayments"
    __table_args__ = (CheckConstraint("principal >= 0 AND interest >= 0", name="parts_not_negative"),)

    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"), primary_key=True)
    principal: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units
    interest: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units


class RepaymentDay(db.Model):
    """What one portfolio (a citizen's own holdings, or a fund's) received on one UTC day.

    ``owner_type`` is "investor" (``owner_id`` a user, pledges without a fund) or "fund".
    Bounded by the calendar, not by the holdings: the portfolio's receipts by day.
    """

    __tablename__ = "repayment_days"
    __table_args__ = (
        CheckConstraint("owner_type IN ('investor', 'fund')", name="owner_type_known"),
        CheckConstraint("principal >= 0 AND interest >= 0", name="parts_not_negative"),
    )

    owner_type: Mapped[str] = mapped_column(String(8), primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    principal: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units
    interest: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units
