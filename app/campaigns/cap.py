"""The offer cap: what one raiser may offer over 12 months.

ECSP Art. 1(2)(c): EUR 5,000,000 per project owner, counted in EUR whatever the offer's
currency, each offer converted at the rate of its approval day (stored on the campaign, so
later rates never change an approved offer's weight). 259-FZ Art. 6: RUB 1 billion per
raiser, counted in RUB. The cap follows the deployment's jurisdiction, not the currency,
and counts per raiser: the same user account, or the same registered legal entity behind
other accounts.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select

from app.campaigns import rates
from app.campaigns.models import Campaign, CampaignStatus, ExchangeRate
from app.core.errors import StateConflict
from app.core.money import format_money
from app.extensions import db

WINDOW = timedelta(days=365)
#: Statuses whose amounts count toward the cap.
COUNTED = (CampaignStatus.SUBMITTED, CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.SUCCESSFUL,
           CampaignStatus.REPAYING, CampaignStatus.COMPLETED, CampaignStatus.DEFAULTED)
#: Statuses where the money raised, not the maximum offered, is what counts.
RAISED = (CampaignStatus.SUCCESSFUL, CampaignStatus.REPAYING, CampaignStatus.COMPLETED, CampaignStatus.DEFAULTED)


@dataclass(frozen=True)
class Usage:
    """The raiser's 12-month total in the cap's currency, this offer included."""

    used: int
    cap: int
    currency: str
    rates: list[ExchangeRate] = field(default_factory=list)

    @property
    def over(self) -> bool:
        return self.used > self.cap

    def explain(self, *, amendment: bool = False) -> str:
        what = "this amendment" if amendment else "this one"
        converted = "; ".join(f"{r.quote} per {r.base} {rates.describe(r)['rate']} on {r.on.isoformat()} "
                              f"({r.source})" for r in self.rates)
        return (f"Across the raiser's offers in 12 months at most {format_money(self.cap, self.currency)} may be "
                f"raised; with {what} it would be {format_money(self.used, self.currency)}"
                + (f", converted at {converted}" if converted else "") + ". Lower the maximum amount.")


def jurisdiction() -> str:
    return current_app.config["PLATFORM_JURISDICTION"].upper()


def offer_cap() -> tuple[str, int]:
    """(currency, amount in minor units) of the deployment's cap."""
    return current_app.config["OFFER_CAPS"][jurisdiction()]


def same_raiser(campaign: Campaign) -> Any:
    """The SQL condition for campaigns of the same raiser: the account, or the legal entity."""
    mine = Campaign.owner_id == campaign.owner_id
    if campaign.owner_registration_number is None:
        return mine
    return or_(mine, and_(Campaign.owner_registration_country == campaign.owner_registration_country,
                          Campaign.owner_registration_number == campaign.owner_registration_number))


def usage(campaign: Campaign, *, on: date, required: bool, max_amount: int | None = None,
          closes_at: datetime | None = None) -> Usage | None:
    """The raiser's total, with ``max_amount``/``closes_at`` as an amendment would make them.

    An offer not yet approved is converted at the rate of ``on``. When a rate is missing,
    ``required`` refuses with a 409 naming it (approval and amendment); otherwise the answer
    is None and the approval, which must count at its own day's rate anyway, decides.
    """
    currency, cap = offer_cap()
    closes_at = campaign.closes_at if closes_at is None else closes_at
    others = db.session.execute(
        select(Campaign.currency, Campaign.status, Campaign.raised_amount, Campaign.max_amount, Campaign.cap_rate_id,
               Campaign.approved_at)
        .where(same_raiser(campaign), Campaign.id != campaign.id,
               Campaign.status.in_([s.value for s in COUNTED]),
               Campaign.closes_at > closes_at - WINDOW, Campaign.closes_at < closes_at + WINDOW)
    ).all()
    offers = [(row.raised_amount if row.status in RAISED else row.max_amount, row.currency, row.cap_rate_id,
               row.approved_at) for row in others]
    offers.append((campaign.max_amount if max_amount is None else max_amount, campaign.currency,
                   campaign.cap_rate_id, campaign.approved_at))
    total, used_rates = 0, {}
    for amount, offer_currency, rate_id, approved_at in offers:
        if offer_currency == currency:
            total += amount
            continue
        # The frozen rate; else (offers approved before rates were stored) their approval day's.
        day = approved_at.date() if approved_at is not None else on
        rate = db.session.get(ExchangeRate, rate_id) if rate_id else rates.rate_on(offer_currency, currency, day)
        if rate is None:
            if not required:
                return None
            raise StateConflict(
                f"No {offer_currency}/{currency} exchange rate is recorded for {day.isoformat()} or the days before: "
                "the offer cap cannot be counted.",
                {"rate": [f"Import the central bank's rates (flask rates import FILE) or record one "
                          f"(flask rates set {currency} {offer_currency} RATE --on {day.isoformat()} --source ...)."]})
        used_rates[rate.id] = rate
        total += rates.convert_up(amount, offer_currency, currency, rate)
    return Usage(total, cap, currency, list(used_rates.values()))


def approval_rate(campaign: Campaign, on: date) -> ExchangeRate | None:
    """The rate an offer is approved at (None when it is in the cap's currency); 409 if missing."""
    currency, _cap = offer_cap()
    if campaign.currency == currency:
        return None
    usage(campaign, on=on, required=True)  # raises with the missing pair named
    return rates.rate_on(campaign.currency, currency, on)
