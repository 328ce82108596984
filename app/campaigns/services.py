"""Campaign reads and state changes. The one place that changes a campaign."""

from typing import Any

from sqlalchemy import Select, case, select

from app.campaigns.models import PUBLIC_STATUSES, Campaign, CampaignStatus
from app.extensions import db

#: Live rounds first, then those opening soon, then the finished ones.
_STATUS_ORDER = case(
    (Campaign.status == CampaignStatus.LIVE, 0),
    (Campaign.status == CampaignStatus.APPROVED, 1),
    else_=2,
)


def public_query() -> Select[Any]:
    """Campaigns anyone may see, live first, closing soonest first."""
    return (
        select(Campaign)
        .where(Campaign.status.in_([s.value for s in PUBLIC_STATUSES]))
        .order_by(_STATUS_ORDER, Campaign.closes_at, Campaign.id)
    )


def featured(limit: int = 12) -> list[Campaign]:
    return list(db.session.scalars(public_query().limit(limit)))


def get_public(campaign_id: int) -> Campaign | None:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.status not in PUBLIC_STATUSES:
        return None
    return campaign
