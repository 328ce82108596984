"""Every domain's tables, imported in one place so metadata is complete for Alembic."""

from app.accounts.models import User, UserRole
from app.campaigns.models import Campaign, CampaignDocument, CampaignSdg, CampaignUpdate, KiisVersion
from app.core.audit import AuditEntry
from app.investors.models import (
    ClassificationRequest,
    Fund,
    FundManager,
    InvestorProfile,
    KnowledgeOption,
    KnowledgeQuestion,
    KnowledgeTestAttempt,
)

__all__ = [
    "AuditEntry",
    "Campaign",
    "CampaignDocument",
    "CampaignSdg",
    "CampaignUpdate",
    "ClassificationRequest",
    "Fund",
    "FundManager",
    "InvestorProfile",
    "KiisVersion",
    "KnowledgeOption",
    "KnowledgeQuestion",
    "KnowledgeTestAttempt",
    "User",
    "UserRole",
]
