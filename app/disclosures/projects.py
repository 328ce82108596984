"""The ECSP Art. 16 list: every project funded in a year, with who invested in it.

A project is *funded in* the year its round closed with money raised (successful,
repaying, completed or defaulted). Its investors are the distinct people and funds whose
pledge was taken (paid or settled, not refunded or revoked): people by the fiscal residence
and classification of their investor profile, funds by the fund's country and as
``professional``. Read-only.
"""

import csv
import io
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select

from app.accounts.models import User
from app.campaigns.models import Campaign
from app.core.spreadsheets import inert
from app.disclosures.reports import FUNDED_STATUSES
from app.extensions import db
from app.investors.models import Fund, InvestorProfile
from app.payments.models import Pledge, PledgeStatus

TAKEN = (PledgeStatus.PAID.value, PledgeStatus.SETTLED.value)
UNKNOWN = "unknown"
COLUMNS = ("campaign_id", "title", "owner_name", "owner_country", "instrument", "amount_raised", "currency",
           "investors", "investors_by_residence", "investors_by_classification")


def _investors(campaign_ids: list[int]) -> dict[int, tuple[Counter, Counter]]:
    """Per campaign: distinct investors counted by residence and by classification."""
    rows = db.session.execute(
        select(Pledge.campaign_id, Pledge.investor_id, Pledge.fund_id, InvestorProfile.country,
               InvestorProfile.classification, Fund.country)
        .outerjoin(InvestorProfile, InvestorProfile.user_id == Pledge.investor_id)
        .outerjoin(Fund, Fund.id == Pledge.fund_id)
        .where(Pledge.campaign_id.in_(campaign_ids), Pledge.status.in_(TAKEN))
        .distinct())
    seen: set[tuple[int, str, int]] = set()
    out: dict[int, tuple[Counter, Counter]] = {cid: (Counter(), Counter()) for cid in campaign_ids}
    for campaign_id, investor_id, fund_id, residence, classification, fund_country in rows:
        key = (campaign_id, "fund", fund_id) if fund_id is not None else (campaign_id, "user", investor_id)
        if key in seen:
            continue
        seen.add(key)
        by_residence, by_classification = out[campaign_id]
        if fund_id is not None:
            by_residence[fund_country or UNKNOWN] += 1
            by_classification["professional"] += 1
        else:
            by_residence[residence or UNKNOWN] += 1
            by_classification[classification or UNKNOWN] += 1
    return out


def funded_projects(year: int) -> list[dict[str, Any]]:
    """One row per project funded in ``year``, in closing order."""
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    campaigns = db.session.execute(
        select(Campaign, User.name, User.country).join(User, User.id == Campaign.owner_id)
        .where(Campaign.status.in_([s.value for s in FUNDED_STATUSES]), Campaign.closes_at >= start,
               Campaign.closes_at < end)
        .order_by(Campaign.closes_at, Campaign.id)).all()
    investors = _investors([c.id for c, _, _ in campaigns]) if campaigns else {}
    rows = []
    for campaign, owner_name, owner_country in campaigns:
        by_residence, by_classification = investors[campaign.id]
        rows.append({"campaign_id": campaign.id, "title": campaign.title, "owner_name": owner_name,
                     "owner_country": owner_country, "instrument": campaign.instrument_type,
                     "amount_raised": campaign.raised_amount, "currency": campaign.currency,
                     "investors": sum(by_residence.values()),
                     "investors_by_residence": dict(sorted(by_residence.items())),
                     "investors_by_classification": dict(sorted(by_classification.items()))})
    return rows


def _flat(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The rows as cells, the breakdowns as ``EE:3;FI:1``, typed text never read as a formula."""
    return [[inert(";".join(f"{k}:{v}" for k, v in row[name].items())) if isinstance(row[name], dict)
             else inert(row[name]) for name in COLUMNS] for row in rows]


def projects_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(_flat(rows))
    return buffer.getvalue()


def projects_xlsx(rows: list[dict[str, Any]], year: int) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(f"Projects {year}")
    sheet.append(list(COLUMNS))
    for row in _flat(rows):
        # Control characters a title may hold are not allowed in a worksheet at all.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
