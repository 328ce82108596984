"""Campaign sweeps: open approved rounds at their opening time, close due rounds."""

from datetime import datetime

from sqlalchemy import or_

from app.campaigns import services
from app.campaigns.models import Campaign, CampaignStatus
from app.jobs.registry import Job


def _open_due(now: datetime):
    return (Campaign.status == CampaignStatus.APPROVED) & (Campaign.opens_at <= now)


def _close_due(now: datetime):
    """At ``closes_at``, or at once when ``max_amount`` is reached."""
    return (Campaign.status == CampaignStatus.LIVE) & or_(
        Campaign.closes_at <= now, Campaign.raised_amount >= Campaign.max_amount
    )


open_rounds = Job("open rounds", Campaign, _open_due, lambda c, now: services.open_round(c, now=now))
close_rounds = Job("close rounds", Campaign, _close_due, lambda c, now: services.close_round(c, now=now))

JOBS = [open_rounds, close_rounds]
