"""Campaign tables. State changes go through ``campaigns.services``, never direct writes."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.types import UTCDateTime, one_of
from app.extensions import db


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    LIVE = "live"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REPAYING = "repaying"
    COMPLETED = "completed"
    DEFAULTED = "defaulted"


#: States anyone may see; drafts and submissions are for the owner and the operator.
PUBLIC_STATUSES = frozenset(
    {
        CampaignStatus.LIVE,
        CampaignStatus.APPROVED,
        CampaignStatus.SUCCESSFUL,
        CampaignStatus.FAILED,
        CampaignStatus.REPAYING,
        CampaignStatus.COMPLETED,
        CampaignStatus.DEFAULTED,
    }
)


class Category(StrEnum):
    ENERGY_EFFICIENCY = "energy_efficiency"
    RENEWABLE_ENERGY = "renewable_energy"
    CLEAN_TRANSPORT = "clean_transport"
    CLEAN_SHIPPING = "clean_shipping"
    WATER = "water"
    CIRCULAR_ECONOMY = "circular_economy"
    INDUSTRIAL_SYMBIOSIS = "industrial_symbiosis"
    SUSTAINABLE_AGRICULTURE = "sustainable_agriculture"
    BIOTECH = "biotech"


class InstrumentType(StrEnum):
    LOAN = "loan"
    DONATION = "donation"


class Repayment(StrEnum):
    ANNUITY = "annuity"
    BULLET = "bullet"




class Campaign(db.Model):
    __tablename__ = "campaigns"
    __table_args__ = (
        one_of("status", CampaignStatus, "status_known"),
        one_of("category", Category, "category_known"),
        one_of("instrument_type", InstrumentType, "instrument_known"),
        CheckConstraint("target_amount > 0", name="target_positive"),
        CheckConstraint("max_amount >= target_amount", name="max_covers_target"),
        CheckConstraint("min_pledge > 0", name="min_pledge_positive"),
        CheckConstraint("raised_amount >= 0 AND raised_amount <= max_amount", name="raised_within_max"),
        CheckConstraint("risk_class IS NULL OR risk_class IN ('A', 'B', 'C', 'D', 'E')", name="risk_class_known"),
        CheckConstraint("reserved_amount >= 0 AND raised_amount + reserved_amount <= max_amount",
                        name="reserved_within_max"),
        # Browsing by status (and category) in closing order reads only the page it shows:
        # the index gives the order, so LIMIT stops early and the count is an index-only scan.
        Index("ix_campaigns_status_closes_at", "status", "closes_at", "id"),
        Index("ix_campaigns_status_category_closes_at", "status", "category", "closes_at", "id"),
        Index("ix_campaigns_owner_registration", "owner_registration_country", "owner_registration_number"),
        CheckConstraint("owner_legal_form IS NULL OR owner_legal_form IN ('company', 'sole_proprietor')",
                        name="owner_legal_form_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(140))
    summary: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40), index=True)
    country: Mapped[str] = mapped_column(String(2), index=True)  # ISO 3166-1 alpha-2
    location: Mapped[str] = mapped_column(String(140), default="")
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217
    instrument_type: Mapped[str] = mapped_column(String(10))
    interest_rate_bps: Mapped[int | None] = mapped_column(Integer)  # 650 = 6.50 % a year
    term_months: Mapped[int | None] = mapped_column(Integer)
    repayment: Mapped[str | None] = mapped_column(String(10))
    target_amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    max_amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    min_pledge: Mapped[int] = mapped_column(BigInteger)  # minor units
    raised_amount: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units, paid pledges
    backers_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Minor units held by pledges awaiting payment: room no one else may take, not yet raised.
    reserved_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(12), default=CampaignStatus.DRAFT)
    risk_class: Mapped[str | None] = mapped_column(String(1))
    co2_tonnes_per_year: Mapped[float] = mapped_column(Float, default=0.0)
    energy_mwh_per_year: Mapped[float] = mapped_column(Float, default=0.0)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    #: The KIIS version investors are shown now; a new one is frozen when terms change.
    current_kiis_version: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The gateway's reusable reference to the owner's payment method that each instalment is
    #: collected from on its due date (``loans.collection``); NULL: the owner pays by hand.
    repayment_mandate: Mapped[str | None] = mapped_column(String(255))
    repayment_mandate_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The raiser: the legal entity or sole proprietor behind the offer (the offer cap is
    #: counted per entity, across user accounts); empty for a natural person (EU only).
    owner_legal_form: Mapped[str | None] = mapped_column(String(20))
    owner_legal_name: Mapped[str | None] = mapped_column(String(200))
    owner_registration_country: Mapped[str | None] = mapped_column(String(2))
    owner_registration_number: Mapped[str | None] = mapped_column(String(40))
    #: The exchange rate of the approval day that converts this offer into the cap's
    #: currency; NULL while unapproved or when the offer is in the cap's currency.
    cap_rate_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_rates.id"))

    sdg_links: Mapped[list["CampaignSdg"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="CampaignSdg.sdg"
    )
    owner = relationship("User", lazy="joined")

    @property
    def sdgs(self) -> list[int]:
        return [link.sdg for link in self.sdg_links]

    @property
    def progress_percent(self) -> int:
        return min(100, self.raised_amount * 100 // self.target_amount) if self.target_amount else 0


class ExchangeRate(db.Model):
    """One published exchange rate: ``rate_micro`` units of ``quote`` per one ``base``,
    times 1,000,000 (rates are exact decimals, never floats). Never changed once recorded:
    approved offers are counted with the row they were approved on."""

    __tablename__ = "exchange_rates"
    __table_args__ = (
        UniqueConstraint("base", "quote", "on", name="pair_day"),
        CheckConstraint("rate_micro > 0", name="rate_positive"),
        CheckConstraint("base <> quote", name="two_currencies"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base: Mapped[str] = mapped_column(String(3))
    quote: Mapped[str] = mapped_column(String(3))
    on: Mapped[date] = mapped_column(Date)
    rate_micro: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CampaignSdg(db.Model):
    """One UN Sustainable Development Goal (1–17) a campaign contributes to."""

    __tablename__ = "campaign_sdgs"
    __table_args__ = (CheckConstraint("sdg BETWEEN 1 AND 17", name="sdg_range"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    sdg: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)


class CampaignDocument(db.Model):
    """An uploaded PDF (energy audit, permits). Stored under the instance folder by a
    random name; served only through a view that checks who may see the campaign."""

    __tablename__ = "campaign_documents"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(140))
    original_filename: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CampaignUpdate(db.Model):
    """A post by the owner: progress, measured savings, news."""

    __tablename__ = "campaign_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(140))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KiisVersion(db.Model):
    """A frozen Key Investment Information Sheet. Never updated: a change of terms
    freezes a new version, and every pledge records the version it was made on."""

    __tablename__ = "kiis_versions"
    __table_args__ = (UniqueConstraint("campaign_id", "version", name="campaign_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict] = mapped_column(JSON)
    #: The exact bytes hashed and served, so the hash never depends on re-serialising.
    json_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    json_sha256: Mapped[str] = mapped_column(String(64))
    pdf_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KiisTranslation(db.Model):
    """A frozen version rendered in another of the deployment's languages, frozen with it:
    the same content, so the same facts; its hash is sealed in the same audit entry."""

    __tablename__ = "kiis_translations"
    __table_args__ = (UniqueConstraint("kiis_version_id", "language", name="version_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiis_version_id: Mapped[int] = mapped_column(ForeignKey("kiis_versions.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(5))
    pdf_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
