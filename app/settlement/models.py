"""Payouts to project owners and the accounts they are paid into."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime
from app.extensions import db


class PayoutStatus(StrEnum):
    #: The owner has no connected account: the operator pays by bank transfer and records it.
    AWAITING_BANK_TRANSFER = "awaiting_bank_transfer"
    SENT = "sent"


class PayoutAccount(db.Model):
    """A project owner's connected payout account at the gateway (Stripe Connect Express)."""

    __tablename__ = "payout_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    gateway: Mapped[str] = mapped_column(String(20))
    account_reference: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Payout(db.Model):
    __tablename__ = "payouts"
    __table_args__ = (
        CheckConstraint("gross > 0 AND fee >= 0 AND fee <= gross", name="amounts_consistent"),
        CheckConstraint("status IN ('awaiting_bank_transfer', 'sent')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: One payout per round: the unique key makes a repeated sweep harmless.
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    gross: Mapped[int] = mapped_column(BigInteger)  # minor units: the pledges settled
    fee: Mapped[int] = mapped_column(BigInteger)  # minor units: the platform's fee
    status: Mapped[str] = mapped_column(String(24))
    reference: Mapped[str | None] = mapped_column(String(100))  # transfer id or bank reference
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def net(self) -> int:
        return self.gross - self.fee
