"""The rules a pledge must pass before it takes room, in the order ``pledging.create_pledge`` asks them.

The role (INVEST), the campaign (visible, live, open), the input (amount, payment method,
currency, minimum, maximum, the KIIS version read), then the investor's readiness and
limits (the investors domain decides). The room itself is checked by the reserving UPDATE
(``campaigns.room``), so no rule here needs a lock.
"""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select

from app.campaigns.models import Campaign, CampaignStatus
from app.core.errors import NotAllowed, StateConflict, ValidationFailed, load
from app.core.i18n import _
from app.core.money import format_money
from app.core.permissions import Role
from app.investors import limits
from app.investors import services as investors
from app.payments.schemas import PledgeInputSchema

_c = Campaign.__table__.c
#: What the checks read of the campaign, as a plain row with the model's attribute names
#: (the campaigns' own visibility rule included): no ORM object, no SDGs, no owner.
LEAN_CAMPAIGN = (select(_c.id, _c.owner_id, _c.status, _c.closes_at, _c.currency, _c.min_pledge, _c.max_amount,
                        _c.current_kiis_version)
                 .where(_c.id == bindparam("campaign_id")))

_PLEDGE_INPUT = PledgeInputSchema()  # stateless: one instance serves every request


def request_hash(campaign_id: int, data: Any) -> str:
    """A digest of the request as sent, to tell a retry from a different request under one key."""
    canonical = json.dumps({"campaign_id": campaign_id, "body": data}, sort_keys=True, separators=(",", ":"),
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def clean_key(idempotency_key: str | None) -> str | None:
    """The client's Idempotency-Key, trimmed, or 422 if it is empty or too long."""
    if idempotency_key is None:
        return None
    key = idempotency_key.strip()
    if not 1 <= len(key) <= 255:
        raise ValidationFailed(_("The Idempotency-Key is invalid."),
                               {"Idempotency-Key": [_("Use 1 to 255 characters.")]})
    return key


def load_input(data: Any) -> dict:
    """The pledge's input by the one schema the form and the API share, or 422 naming the fields."""
    return load(_PLEDGE_INPUT, data, lambda: _("The pledge is invalid."))


def check_campaign(campaign: Any, clean: dict, now: datetime) -> None:
    """The campaign-side rules; the room itself is checked again by the reserving UPDATE."""
    if campaign.status != CampaignStatus.LIVE:
        raise StateConflict(_("This campaign is not open for pledges."),
                            {"campaign": [_("The campaign is %(status)s.", status=campaign.status)]})
    if campaign.closes_at <= now:
        raise StateConflict(_("This round has closed."), {"campaign": [_("The round closed.")]})
    currency = clean.get("currency")
    if currency is not None and currency != campaign.currency:
        raise ValidationFailed(_("The pledge must be in the campaign's currency, %(currency)s.",
                                 currency=campaign.currency),
                               {"currency": [_("Must be %(currency)s.", currency=campaign.currency)]})
    amount = clean["amount"]
    if amount < campaign.min_pledge:
        text = _("The minimum pledge is %(min)s.", min=format_money(campaign.min_pledge, campaign.currency))
        raise ValidationFailed(text, {"amount": [text]})
    if amount > campaign.max_amount:
        text = _("The pledge is larger than the whole round (%(max)s).",
                 max=format_money(campaign.max_amount, campaign.currency))
        raise ValidationFailed(text, {"amount": [text]})
    version = clean.get("kiis_version")
    if version is not None and version != campaign.current_kiis_version:
        raise StateConflict(_("The terms changed since you read them: read the current Key Investment Information "
                              "Sheet (version %(version)s) and pledge again.", version=campaign.current_kiis_version),
                            {"kiis_version": [_("Outdated.")]})


def check_conflicts(actor: Any, campaign: Any, *, staff_may_invest: bool) -> None:
    """ECSP Art. 8: no one invests in their own offer, and platform staff invest only where
    the deployment allows it (``STAFF_MAY_INVEST``). A 403; nothing is written."""
    if campaign.owner_id == actor.id:
        raise NotAllowed(_("You cannot pledge to a campaign you own."),
                         {"campaign": [_("This is your own campaign.")]})
    if not staff_may_invest and Role.OPERATOR.value in actor.role_names:
        raise NotAllowed(_("Platform staff may not invest on this platform."),
                         {"campaign": [_("Operators do not invest here (conflict of interest).")]})


def check_wallet(available: int, amount: int, currency: str) -> None:
    """A wallet pledge needs that much available in the wallet (422 naming ``amount``)."""
    if amount > available:
        text = _("Your wallet holds %(available)s available; pledge at most that, or pay another way.",
                 available=format_money(available, currency))
        raise ValidationFailed(text, {"amount": [text]})


def reflection_end(facts: limits.InvestorFacts, now: datetime, j: limits.JurisdictionProfile) -> datetime | None:
    """ECSP Art. 22: four calendar days for non-sophisticated investors; none for the others."""
    if limits.is_professional(facts, j):
        return None
    days = current_app.config.get("REFLECTION_DAYS", {}).get(j.code, 0)
    return now + timedelta(days=days) if days else None


def check_readiness(actor: Any, now: datetime, j: limits.JurisdictionProfile,
                    context: investors.InvestorContext | None = None) -> None:
    """403 listing what the investor has still to do before a first pledge."""
    ready = investors.readiness(actor, now, j, context=context)
    if not ready.ready:
        missing = [step["detail"] for step in ready.steps if not step["done"]]
        raise NotAllowed(_("You cannot pledge yet: complete the steps on your investing page first."),
                         {"readiness": missing or [_("Your account cannot invest.")]})


def check_transfer_currency(currency: str, account_currency: str) -> None:
    """The client-money account holds one currency: a bank transfer in another could never be
    matched on its statement (422 naming ``payment_method``)."""
    if currency != account_currency:
        text = _("Bank transfers are accepted in %(currency)s only; pay this %(other)s round by card or from "
                 "your wallet.", currency=account_currency, other=currency)
        raise ValidationFailed(text, {"payment_method": [text]})
