"""Pledge tables. State changes go through ``payments.services``; the ledger's tables
live in ``payments.ledger`` with the one function that posts to them."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.types import UTCDateTime, one_of
from app.extensions import db
from app.payments.ledger import LedgerAccount, LedgerEntry, LedgerTransaction


class PledgeStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REFUNDED = "refunded"
    SETTLED = "settled"


#: Pledges that count toward an investor's annual limit (money taken or about to be).
LIVE_STATUSES = (PledgeStatus.PENDING_PAYMENT, PledgeStatus.PAID, PledgeStatus.SETTLED)




class Pledge(db.Model):
    __tablename__ = "pledges"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        one_of("status", PledgeStatus, "status_known"),
        UniqueConstraint("investor_id", "idempotency_key", name="uq_pledges_investor_idempotency_key"),
    )
    audit_type = "pledge"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    #: The user who pledged (for a fund, the manager who acted).
    investor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: Set when a fund manager pledged: the pledge and its holding are the fund's.
    fund_id: Mapped[int | None] = mapped_column(ForeignKey("funds.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units, positive
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217, the campaign's
    status: Mapped[str] = mapped_column(String(16), default=PledgeStatus.PENDING_PAYMENT.value, index=True)
    payment_method: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: End of the ECSP reflection period; None for sophisticated investors, funds and RU.
    reflection_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Why a paid pledge was refunded: "revoked", "round_failed", "round_cancelled", ...
    refund_reason: Mapped[str | None] = mapped_column(String(40))
    #: The KIIS version the investor was shown when pledging.
    kiis_version: Mapped[int | None] = mapped_column(Integer)
    #: The gateway's id for the charge (PaymentIntent), once it has one.
    gateway_reference: Mapped[str | None] = mapped_column(String(100), index=True)
    refund_reference: Mapped[str | None] = mapped_column(String(100))
    #: Where the investor confirms the payment (3-D Secure) while it requires action.
    next_action_url: Mapped[str | None] = mapped_column(String(500))
    #: The client's Idempotency-Key (API header, or the HTML form's per-render token).
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    #: SHA-256 of the canonical request, so a reused key with another body is refused.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(60))
    failure_message: Mapped[str | None] = mapped_column(Text)
    #: A bank-transfer pledge's ISO 11649 creditor reference (``RF…``), which its transfer must carry.
    payment_reference: Mapped[str | None] = mapped_column(String(35), unique=True)
    #: A bank-transfer pledge expires unpaid at this time, and its room is freed.
    pay_by: Mapped[datetime | None] = mapped_column(UTCDateTime())

    #: Loaded on access only: the pledge path never needs it, the pages do.
    campaign = relationship("Campaign", lazy="select")

    @property
    def counts(self) -> bool:
        return self.status in (PledgeStatus.PAID, PledgeStatus.SETTLED)


__all__ = ["LedgerAccount", "LedgerEntry", "LedgerTransaction", "Pledge", "PledgeStatus"]
