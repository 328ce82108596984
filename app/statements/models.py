"""Imported bank statements and their lines. A line's ``dedupe_key`` is unique across every
statement ever imported: that constraint is what makes a second import change nothing."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime, one_of
from app.extensions import db


class StatementFormat(StrEnum):
    CAMT053 = "camt053"
    ONEC = "1c"


class LineStatus(StrEnum):
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    RETURNED_TO_SENDER = "returned_to_sender"


class Direction(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"


class BankStatement(db.Model):
    __tablename__ = "bank_statements"
    __table_args__ = (
        one_of("format", StatementFormat, "format_known"),
        CheckConstraint("entries >= 0 AND matched >= 0 AND unmatched >= 0 AND duplicates >= 0",
                        name="counts_not_negative"),
    )
    audit_type = "bank_statement"

    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(255))
    #: SHA-256 of the uploaded bytes (the same file imported twice has the same digest).
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: Our account the statement is for: an IBAN (camt.053) or a 20-digit account number (1C).
    account: Mapped[str | None] = mapped_column(String(34))
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217, the platform's
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Every entry of the file, duplicates included.
    entries: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    unmatched: Mapped[int] = mapped_column(Integer, default=0)
    #: Entries already imported before (by this or another statement): nothing stored for them.
    duplicates: Mapped[int] = mapped_column(Integer, default=0)


class StatementLine(db.Model):
    __tablename__ = "statement_lines"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        one_of("direction", Direction, "direction_known"),
        one_of("status", LineStatus, "status_known"),
    )
    audit_type = "statement_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id"), index=True)
    #: The bank's own entry reference (camt AcctSvcrRef) or the 1C document key: unique everywhere.
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    bank_ref: Mapped[str | None] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(6))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units, never negative: direction says which way
    currency: Mapped[str] = mapped_column(String(3))
    booking_date: Mapped[date | None] = mapped_column(Date)
    remittance: Mapped[str] = mapped_column(Text, default="")
    #: Every valid RF reference found in the line (structured first), as a JSON list.
    references: Mapped[list] = mapped_column(JSON, default=list)
    end_to_end_id: Mapped[str | None] = mapped_column(String(64), index=True)
    is_return: Mapped[bool] = mapped_column(Boolean, default=False)
    return_reason: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), index=True)
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id"), index=True)
    #: The withdrawal the line paid or returned.
    withdrawal_id: Mapped[int | None] = mapped_column(ForeignKey("withdrawals.id"), index=True)
    #: The operator who matched or returned the line by hand; None when the import matched it.
    matched_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
