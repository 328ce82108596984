"""The periodic report to the regulator and the public transparency figures.

Read models over campaigns, pledges and loans: aggregate queries only, nothing here
changes state. Definitions (they are also printed under the HTML report):

- A campaign belongs to the period in which its round closes (``closes_at``); drafts
  and submissions were never offered and are left out.
- *Funded* rounds are successful, repaying, completed or defaulted; the *success rate*
  is funded / (funded + failed) among the rounds closed in the period (cancelled rounds
  are counted by status but not in the rate).
- *Amount raised* is the sum of funded rounds' raised amounts, per currency.
- *Pledges* are those whose payment succeeded (``paid_at`` set, whatever happened next:
  settled, refunded, revoked), counted in the period they were made; *investors* are
  the distinct people or funds behind them; the *average pledge* is per currency.
- The *default rate per risk class* follows ECSP Art. 20: loans that started within the
  36 months before the period's end (or before now, for a period still running), and
  of those the ones that had defaulted by then.

Rates are integer basis points (``None`` where nothing was there to divide by);
amounts are integer minor units keyed by currency.
"""

import calendar
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, func, select

from app.campaigns.models import Campaign, CampaignStatus
from app.core.errors import NotFound, ValidationFailed
from app.extensions import db
from app.loans.models import Loan
from app.payments.models import Pledge

RISK_CLASSES = ("A", "B", "C", "D", "E")
FUNDED_STATUSES = (CampaignStatus.SUCCESSFUL, CampaignStatus.REPAYING, CampaignStatus.COMPLETED,
                   CampaignStatus.DEFAULTED)
#: Statuses of campaigns that were offered to investors (drafts and submissions were not).
OFFERED_STATUSES = (CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.FAILED, CampaignStatus.CANCELLED,
                    *FUNDED_STATUSES)
DEFAULT_WINDOW_MONTHS = 36
#: No report before the platform could have existed.
FIRST_YEAR = 2020


@dataclass(frozen=True)
class Period:
    label: str  # "2026" or "2026-Q3"
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC


def _bps(part: int, whole: int) -> int | None:
    """``part / whole`` in basis points, rounded half up; None when ``whole`` is 0."""
    if whole == 0:
        return None
    return (part * 10_000 * 2 + whole) // (whole * 2)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the month's last day if shorter)."""
    years, month0 = divmod(moment.month - 1 - months, 12)
    year, month = moment.year + years, month0 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def parse_year(raw: str, *, now: datetime) -> int:
    """A report year from the URL: 422 when it is not a year, 404 when there is no such report."""
    if not re.fullmatch(r"\d{4}", raw or ""):
        raise ValidationFailed(_("The report year must be four digits, e.g. 2026."),
                               {"year": [_("Must be a four-digit year, e.g. 2026.")]})
    year = int(raw)
    if year < FIRST_YEAR:
        raise NotFound(_("There is no report for %(year)s: reports start in %(first)s.", year=year, first=FIRST_YEAR))
    if year > now.year:
        raise NotFound(_("There is no report for %(year)s yet: that year has not started.", year=year))
    return year


def periods(year: int) -> list[Period]:
    """The whole year, then its four quarters."""
    def at(y: int, m: int) -> datetime:
        return datetime(y, m, 1, tzinfo=UTC)

    quarters = [Period(f"{year}-Q{q}", at(year, 3 * q - 2), at(year, 3 * q + 1) if q < 4 else at(year + 1, 1))
                for q in range(1, 5)]
    return [Period(str(year), at(year, 1), at(year + 1, 1)), *quarters]


def campaign_figures(start: datetime | None, end: datetime | None) -> dict[str, Any]:
    """Rounds closing in ``[start, end)`` (open-ended where None): counts by status, success rate, raised."""
    window = [Campaign.status.in_([s.value for s in OFFERED_STATUSES])]
    if start is not None:
        window.append(Campaign.closes_at >= start)
    if end is not None:
        window.append(Campaign.closes_at < end)
    by_status = {status: count for status, count in db.session.execute(
        select(Campaign.status, func.count()).where(*window).group_by(Campaign.status))}
    raised = {currency: int(total) for currency, total in db.session.execute(
        select(Campaign.currency, func.coalesce(func.sum(Campaign.raised_amount), 0))
        .where(*window, Campaign.status.in_([s.value for s in FUNDED_STATUSES])).group_by(Campaign.currency)
        .order_by(Campaign.currency))}
    funded = sum(by_status.get(s.value, 0) for s in FUNDED_STATUSES)
    failed = by_status.get(CampaignStatus.FAILED.value, 0)
    return {
        "campaigns_by_status": {s.value: by_status.get(s.value, 0) for s in OFFERED_STATUSES},
        "campaigns": sum(by_status.values()),
        "rounds_funded": funded,
        "rounds_failed": failed,
        "success_rate_bps": _bps(funded, funded + failed),
        "amount_raised": raised,
    }


def pledge_figures(start: datetime, end: datetime) -> dict[str, Any]:
    """Paid pledges made in ``[start, end)``: how many, by how many investors, their average per currency."""
    window = (Pledge.created_at >= start, Pledge.created_at < end, Pledge.paid_at.is_not(None))
    #: A fund's pledges count once for the fund (negative key), a person's once for the person.
    investor_key = case((Pledge.fund_id.is_not(None), -Pledge.fund_id), else_=Pledge.investor_id)
    count, investors = db.session.execute(
        select(func.count(), func.count(func.distinct(investor_key))).where(*window)).one()
    amounts: dict[str, int] = {}
    averages: dict[str, int] = {}
    for currency, n, total in db.session.execute(
            select(Pledge.currency, func.count(), func.sum(Pledge.amount)).where(*window)
            .group_by(Pledge.currency).order_by(Pledge.currency)):
        amounts[currency] = int(total)
        averages[currency] = (int(total) * 2 + n) // (n * 2)  # rounded half up, minor units
    return {"pledges": count, "investors": investors, "amount_pledged": amounts, "average_pledge": averages}


def default_rates(as_of: datetime) -> dict[str, dict[str, Any]]:
    """Per risk class: loans started in the 36 months before ``as_of`` and how many had defaulted by then."""
    since = months_before(as_of, DEFAULT_WINDOW_MONTHS)
    defaulted = case((Loan.defaulted_at.is_not(None) & (Loan.defaulted_at < as_of), 1), else_=0)
    #: In arrears now (an instalment unpaid past the overdue period), not yet defaulted.
    overdue = case((Loan.status == "overdue", 1), else_=0)
    rows = db.session.execute(
        select(Campaign.risk_class, func.count(Loan.id), func.coalesce(func.sum(defaulted), 0),
               func.coalesce(func.sum(overdue), 0))
        .join(Campaign, Campaign.id == Loan.campaign_id)
        .where(Loan.starts_at >= since, Loan.starts_at < as_of)
        .group_by(Campaign.risk_class))
    found = {risk: (int(loans), int(bad), int(late)) for risk, loans, bad, late in rows}
    return {
        risk: {"loans": found.get(risk, (0, 0, 0))[0], "defaulted": found.get(risk, (0, 0, 0))[1],
               "overdue": found.get(risk, (0, 0, 0))[2],
               "default_rate_bps": _bps(found.get(risk, (0, 0, 0))[1], found.get(risk, (0, 0, 0))[0])}
        for risk in RISK_CLASSES
    }


def periodic_report(year: int, *, now: datetime) -> dict[str, Any]:
    """The report for ``year``: the whole year first, then each quarter (see the module docstring)."""
    out = []
    for period in periods(year):
        as_of = min(period.end, now)
        out.append({
            "period": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "complete": period.end <= now,
            "started": period.start <= now,
            **campaign_figures(period.start, period.end),
            **pledge_figures(period.start, period.end),
            "default_rate_by_risk_class": default_rates(as_of),
        })
    return {"year": year, "generated_at": now.isoformat(), "default_window_months": DEFAULT_WINDOW_MONTHS,
            "periods": out}


CSV_HEADER = ("period", "metric", "key", "value")


def report_rows(report: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """The report flattened to ``(period, metric, key, value)`` rows, one figure each."""
    for p in report["periods"]:
        label = p["period"]
        for status, count in p["campaigns_by_status"].items():
            yield label, "campaigns_by_status", status, count
        for name in ("campaigns", "rounds_funded", "rounds_failed", "success_rate_bps", "pledges", "investors"):
            yield label, name, "", "" if p[name] is None else p[name]
        for name in ("amount_raised", "amount_pledged", "average_pledge"):
            for currency, amount in p[name].items():
                yield label, name, currency, amount
        for risk, figures in p["default_rate_by_risk_class"].items():
            for name in ("loans", "defaulted", "overdue", "default_rate_bps"):
                value = figures[name]
                yield label, f"default_{name}" if name != "default_rate_bps" else name, risk, \
                    "" if value is None else value


def report_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(report_rows(report))
    return buffer.getvalue()


def transparency(*, now: datetime) -> dict[str, Any]:
    """The public figures: everything raised so far, outcomes, and the projected impact of funded projects."""
    figures = campaign_figures(None, None)
    impact = db.session.execute(
        select(func.coalesce(func.sum(Campaign.co2_tonnes_per_year), 0.0),
               func.coalesce(func.sum(Campaign.energy_mwh_per_year), 0.0))
        .where(Campaign.status.in_([s.value for s in FUNDED_STATUSES]))).one()
    rates = default_rates(now)
    loans = sum(r["loans"] for r in rates.values())
    defaulted = sum(r["defaulted"] for r in rates.values())
    return {
        "amount_raised": figures["amount_raised"],
        "projects_funded": figures["rounds_funded"],
        "projects_offered": figures["campaigns"],
        "rounds_closed": figures["rounds_funded"] + figures["rounds_failed"],
        "success_rate_bps": figures["success_rate_bps"],
        "loans": loans,
        "loans_defaulted": defaulted,
        "default_rate_bps": _bps(defaulted, loans),
        "default_window_months": DEFAULT_WINDOW_MONTHS,
        "co2_tonnes_per_year": round(float(impact[0]), 1),
        "energy_mwh_per_year": round(float(impact[1]), 1),
    }
