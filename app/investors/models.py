"""Investor tables: profiles, classification requests, the knowledge test, funds.

State changes go through ``investors.services``; nothing here knows about HTTP.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.core.types import UTCDateTime, one_of
from app.extensions import db
from app.investors.limits import Classification

#: Declared amounts above this (in minor units) are refused as implausible input.
MAX_DECLARED_AMOUNT = 100_000_000_000_00




class IdentityStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class InvestorProfile(db.Model):
    """A natural person's declarations and the operator's decisions about them."""

    __tablename__ = "investor_profiles"
    __table_args__ = (
        one_of("identity_status", IdentityStatus, "identity_status_known"),
        one_of("classification", Classification, "classification_known"),
        CheckConstraint("annual_income IS NULL OR annual_income >= 0", name="annual_income_not_negative"),
        CheckConstraint("liquid_assets IS NULL OR liquid_assets >= 0", name="liquid_assets_not_negative"),
        CheckConstraint("annual_commitments IS NULL OR annual_commitments >= 0",
                        name="annual_commitments_not_negative"),
        CheckConstraint("net_worth IS NULL OR net_worth >= 0", name="net_worth_not_negative"),
        CheckConstraint("other_platforms_amount >= 0", name="other_platforms_not_negative"),
    )
    audit_type = "investor_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    #: Personal fields; blanked (NULL) when the person asks for erasure.
    legal_name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    currency: Mapped[str] = mapped_column(String(3))  # the currency of every amount below
    annual_income: Mapped[int | None] = mapped_column(BigInteger)  # minor units, net per year
    liquid_assets: Mapped[int | None] = mapped_column(BigInteger)  # minor units
    annual_commitments: Mapped[int | None] = mapped_column(BigInteger)  # minor units per year
    #: Minor units: income + liquid assets − commitments when those are given, else as declared.
    net_worth: Mapped[int | None] = mapped_column(BigInteger)
    #: Declared as invested on other platforms during ``other_platforms_year`` (RU limit).
    other_platforms_amount: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units
    other_platforms_year: Mapped[int | None] = mapped_column(Integer)
    identity_status: Mapped[str] = mapped_column(String(10), default=IdentityStatus.PENDING.value)
    identity_reason: Mapped[str | None] = mapped_column(Text)
    identity_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    identity_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    classification: Mapped[str] = mapped_column(String(20))
    #: When the operator last decided the classification; a professional one lapses after
    #: the jurisdiction's review period (see ``limits.JurisdictionProfile``).
    classified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The loss-bearing simulation (EU) or risk statement (RU) the investor acknowledged,
    #: with the capacity shown then: a later change of net worth asks again.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_loss_capacity: Mapped[int | None] = mapped_column(BigInteger)  # minor units
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class DocumentKind(StrEnum):
    PASSPORT = "passport"
    ID_CARD = "id_card"
    RESIDENCE_PERMIT = "residence_permit"
    DRIVING_LICENCE = "driving_licence"
    PROOF_OF_ADDRESS = "proof_of_address"


class IdentityDocument(db.Model):
    """A document the investor uploaded for the identity check. Kept under a random name
    outside the web root; only operators open it, and each opening is audited."""

    __tablename__ = "identity_documents"
    __table_args__ = (
        one_of("kind", DocumentKind, "kind_known"),
        one_of("content_type", ("application/pdf", "image/jpeg", "image/png"), "content_type_known"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
    )
    audit_type = "identity_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: Found from the content, never from the file name or the browser's claim.
    content_type: Mapped[str] = mapped_column(String(40))
    original_filename: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClassificationRequest(db.Model):
    """An investor's request to be treated as sophisticated (EU) or qualified (RU)."""

    __tablename__ = "classification_requests"
    __table_args__ = (
        one_of("status", RequestStatus, "status_known"),
        one_of("requested", Classification, "requested_known"),
    )
    audit_type = "classification_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    requested: Mapped[str] = mapped_column(String(20))
    #: The criteria keys the investor declared (the jurisdiction table lists them).
    criteria: Mapped[list[str]] = mapped_column(JSON, default=list)
    evidence: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=RequestStatus.PENDING.value, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class KnowledgeQuestion(db.Model):
    """One question of the entry knowledge test; the operator maintains the bank."""

    __tablename__ = "knowledge_questions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # a stable slug
    position: Mapped[int] = mapped_column(Integer, default=0)
    topic: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    text_ru: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    options: Mapped[list["KnowledgeOption"]] = relationship(
        back_populates="question", cascade="all, delete-orphan", lazy="selectin",
        order_by="KnowledgeOption.position",
    )

    @property
    def correct_option_id(self) -> str | None:
        return next((o.id for o in self.options if o.correct), None)


class KnowledgeOption(db.Model):
    __tablename__ = "knowledge_options"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)  # "<question id>.<letter>"
    question_id: Mapped[str] = mapped_column(ForeignKey("knowledge_questions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    text_ru: Mapped[str | None] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean, default=False)

    question: Mapped[KnowledgeQuestion] = relationship(back_populates="options")


class KnowledgeTestAttempt(db.Model):
    """One sitting of the test. A pass is valid until ``valid_until``."""

    __tablename__ = "knowledge_test_attempts"
    __table_args__ = (CheckConstraint("score >= 0 AND pass_mark > 0", name="score_sane"),)
    audit_type = "knowledge_test_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    score: Mapped[int] = mapped_column(Integer)
    pass_mark: Mapped[int] = mapped_column(Integer)
    question_count: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: {question id: option id} as answered.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Fund(db.Model):
    """A legal entity investing on its own behalf: a professional investor."""

    __tablename__ = "funds"
    audit_type = "fund"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    managers: Mapped[list["FundManager"]] = relationship(
        back_populates="fund", cascade="all, delete-orphan", lazy="selectin"
    )


class FundManager(db.Model):
    """A user acting for a fund. A user manages at most one fund, so their pledges are its."""

    __tablename__ = "fund_managers"

    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                         unique=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    fund: Mapped[Fund] = relationship(back_populates="managers")
    user: Mapped[User] = relationship()
