"""Disclosure test helpers: people in every role, a campaign with a frozen KIIS, pledges and loans."""

from collections.abc import Iterator
from datetime import datetime

import pytest

from app.campaigns import services as campaigns
from app.extensions import db
from app.loans.models import Loan
from app.payments.models import Pledge
from tests.factories import NOW, CampaignFactory, UserFactory


@pytest.fixture
def frozen_clock(app) -> Iterator[datetime]:
    app.config["CLOCK"] = lambda: NOW
    yield NOW
    app.config["CLOCK"] = None


@pytest.fixture
def people() -> dict:
    """One user per role, with a campaign the owner owns and its KIIS version 1."""
    users = {role: UserFactory(email=f"{role}@example.org", roles=[role])
             for role in ("regulator", "operator", "investor", "owner", "fund_manager")}
    campaign = CampaignFactory(owner=users["owner"], status="approved")
    campaigns.freeze_kiis(campaign, now=NOW, fee_bps=300)
    db.session.commit()
    return {**users, "campaign": campaign}


def make_pledge(campaign, investor, amount: int, created_at: datetime, *, status: str = "paid",
                paid: bool = True, fund_id: int | None = None) -> Pledge:
    pledge = Pledge(campaign_id=campaign.id, investor_id=investor.id, fund_id=fund_id, amount=amount,
                    currency=campaign.currency, status=status, payment_method="pm_card_visa", created_at=created_at,
                    paid_at=created_at if paid else None, kiis_version=1)
    db.session.add(pledge)
    return pledge


def make_loan(campaign, starts_at: datetime, *, defaulted_at: datetime | None = None) -> Loan:
    loan = Loan(campaign_id=campaign.id, principal=campaign.raised_amount or 1, currency=campaign.currency,
                interest_rate_bps=650, term_months=36, repayment="annuity",
                status="defaulted" if defaulted_at else "active", starts_at=starts_at, defaulted_at=defaulted_at)
    db.session.add(loan)
    return loan
