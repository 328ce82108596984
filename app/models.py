"""Every domain's tables, imported in one place so metadata is complete for Alembic."""

from app.accounts.models import ApiToken, PasswordReset, User, UserRole
from app.campaigns.models import Campaign, CampaignDocument, CampaignSdg, CampaignUpdate, KiisVersion
from app.complaints.models import Complaint
from app.core.audit import AuditEntry
from app.disclosures.models import ExpectedDefaultRate
from app.investors.models import (
    ClassificationRequest,
    Fund,
    FundManager,
    InvestorProfile,
    KnowledgeOption,
    KnowledgeQuestion,
    KnowledgeTestAttempt,
)
from app.loans.models import Instalment, InstalmentShare, Loan
from app.notifications.models import OutboxMessage
from app.payments.models import LedgerAccount, LedgerEntry, LedgerTransaction, Pledge
from app.settlement.models import Payout, PayoutAccount
from app.statements.models import BankStatement, StatementLine
from app.wallets.models import BankAccount, Withdrawal, WithdrawalBatch

__all__ = [
    "ApiToken",
    "AuditEntry",
    "BankAccount",
    "BankStatement",
    "Campaign",
    "CampaignDocument",
    "CampaignSdg",
    "CampaignUpdate",
    "ClassificationRequest",
    "Complaint",
    "ExpectedDefaultRate",
    "Fund",
    "FundManager",
    "Instalment",
    "InstalmentShare",
    "InvestorProfile",
    "KiisVersion",
    "KnowledgeOption",
    "KnowledgeQuestion",
    "KnowledgeTestAttempt",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "Loan",
    "OutboxMessage",
    "PasswordReset",
    "Payout",
    "PayoutAccount",
    "Pledge",
    "StatementLine",
    "User",
    "UserRole",
    "Withdrawal",
    "WithdrawalBatch",
]
