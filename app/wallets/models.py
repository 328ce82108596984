"""Bank accounts that withdrawals are paid into, withdrawals, and the payment files (pain.001)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime, one_of
from app.extensions import db


class OwnerType(StrEnum):
    USER = "user"
    FUND = "fund"


class WithdrawalStatus(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"  # in a payment file
    PAID = "paid"  # seen on the bank statement
    RETURNED = "returned"  # sent back by the receiving bank: available in the wallet again


class BankAccount(db.Model):
    """The one account an owner (a user, or a fund for its managers) withdraws to; replaced on change."""

    __tablename__ = "bank_accounts"
    __table_args__ = (
        UniqueConstraint("owner_type", "owner_id", name="uq_bank_accounts_owner"),
        one_of("owner_type", OwnerType, "owner_type_known"),
    )
    audit_type = "bank_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(10))
    #: The user's or the fund's id, as the ledger names wallet owners.
    owner_id: Mapped[int] = mapped_column(Integer)
    holder_name: Mapped[str] = mapped_column(String(140))
    iban: Mapped[str] = mapped_column(String(34))  # normalised: upper case, no spaces
    bic: Mapped[str | None] = mapped_column(String(11))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WithdrawalBatch(db.Model):
    """One pain.001 credit-transfer file of every withdrawal requested in one currency."""

    __tablename__ = "withdrawal_batches"
    __table_args__ = (CheckConstraint("count > 0 AND total > 0", name="not_empty"),)
    audit_type = "withdrawal_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217
    count: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(BigInteger)  # minor units
    message_id: Mapped[str] = mapped_column(String(35), unique=True)
    #: The pain.001.001.03 XML as built (UTF-8 bytes), served to the operator as is.
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Withdrawal(db.Model):
    __tablename__ = "withdrawals"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        one_of("status", WithdrawalStatus, "status_known"),
        one_of("owner_type", OwnerType, "owner_type_known"),
        UniqueConstraint("investor_id", "idempotency_key", name="uq_withdrawals_investor_key"),
    )
    audit_type = "withdrawal"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Who asked (a fund's manager for the fund).
    investor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    fund_id: Mapped[int | None] = mapped_column(ForeignKey("funds.id"), index=True)
    owner_type: Mapped[str] = mapped_column(String(10))
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217
    status: Mapped[str] = mapped_column(String(12), index=True)
    #: The account paid into, as it was when the withdrawal was requested.
    holder_name: Mapped[str] = mapped_column(String(140))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    #: ``GRW-<id>``, set when the withdrawal goes into a file; the statement names it back.
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), unique=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("withdrawal_batches.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    return_reason: Mapped[str | None] = mapped_column(String(200))
