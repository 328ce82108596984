"""Default rates per risk class as ECSP Art. 20 and Del. Reg. (EU) 2022/2115 Art. 2 want them,
next to the rate the operator expected.

The actual rate of a risk class is the average of its 1-year default rates over the three
non-overlapping 12-month windows of the preceding 36 months. A window's rate is the loans
that defaulted within it over the loans exposed in it (started before it ended, and neither
defaulted nor repaid before it began); a window with no exposed loan has no rate and is left
out of the average. The numerator and denominator disclosed are the sums over the windows.
Rates are basis points, rounded half up.
"""

from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from app.campaigns.models import Campaign
from app.core.audit import audit
from app.core.errors import NotFound, ValidationFailed
from app.core.i18n import _
from app.disclosures.models import ExpectedDefaultRate
from app.disclosures.reports import RISK_CLASSES, months_before
from app.extensions import db
from app.loans.models import Loan

WINDOWS = 3
WINDOW_MONTHS = 12


def windows(as_of: datetime) -> list[tuple[datetime, datetime]]:
    """The three 12-month windows before ``as_of``, oldest first."""
    return [(months_before(as_of, WINDOW_MONTHS * (k + 1)), months_before(as_of, WINDOW_MONTHS * k))
            for k in reversed(range(WINDOWS))]


def _window_counts(start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    exposed = and_(Loan.starts_at < end, or_(Loan.defaulted_at.is_(None), Loan.defaulted_at >= start),
                   or_(Loan.completed_at.is_(None), Loan.completed_at >= start))
    defaulted = case((and_(Loan.defaulted_at >= start, Loan.defaulted_at < end), 1), else_=0)
    rows = db.session.execute(select(Campaign.risk_class, func.count(Loan.id), func.coalesce(func.sum(defaulted), 0))
                              .join(Campaign, Campaign.id == Loan.campaign_id).where(exposed)
                              .group_by(Campaign.risk_class))
    return {risk: (int(bad), int(loans)) for risk, loans, bad in rows}


def _bps(value: Fraction) -> int:
    scaled = value * 10_000
    return int(scaled + Fraction(1, 2)) if scaled >= 0 else -int(-scaled + Fraction(1, 2))


def default_rates(as_of: datetime) -> list[dict[str, Any]]:
    """Per risk class: expected and actual rate, numerator, denominator and each window's figures."""
    spans = windows(as_of)
    counts = [_window_counts(start, end) for start, end in spans]
    expected = {e.risk_class: e for e in db.session.scalars(select(ExpectedDefaultRate))}
    out = []
    for risk in RISK_CLASSES:
        per_window = []
        rates: list[Fraction] = []
        for (start, end), found in zip(spans, counts, strict=True):
            numerator, denominator = found.get(risk, (0, 0))
            rate = Fraction(numerator, denominator) if denominator else None
            if rate is not None:
                rates.append(rate)
            per_window.append({"start": start, "end": end, "numerator": numerator, "denominator": denominator,
                               "default_rate_bps": None if rate is None else _bps(rate)})
        plan = expected.get(risk)
        out.append({
            "risk_class": risk,
            "expected_default_rate_bps": plan.expected_default_rate_bps if plan else None,
            "assumptions": plan.assumptions if plan else None,
            "actual_default_rate_bps": _bps(sum(rates) / len(rates)) if rates else None,
            "numerator": sum(w["numerator"] for w in per_window),
            "denominator": sum(w["denominator"] for w in per_window),
            "windows": per_window,
            "as_of": as_of,
        })
    return out


def set_expected(actor: Any, risk_class: str, data: dict[str, Any], *, now: datetime,
                 ip_address: str | None = None) -> ExpectedDefaultRate:
    """The operator's expected default rate for a risk class (0–10,000 bps) and why. Audited."""
    if risk_class not in RISK_CLASSES:
        raise NotFound(_("No such risk class."))
    errors: dict[str, list[str]] = {}
    raw = str(data.get("expected_default_rate_bps", "")).strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5 and int(raw) <= 10_000):
        errors["expected_default_rate_bps"] = [_("Enter basis points from 0 to 10,000 (250 = 2.50 %).")]
    assumptions = str(data.get("assumptions") or "").strip()
    if not 10 <= len(assumptions) <= 5_000:
        errors["assumptions"] = [_("Say in 10 to 5,000 characters what the expectation rests on.")]
    if errors:
        raise ValidationFailed(_("The expected default rate was not saved."), errors)
    row = db.session.get(ExpectedDefaultRate, risk_class) or ExpectedDefaultRate(risk_class=risk_class)
    before = row.expected_default_rate_bps
    row.expected_default_rate_bps, row.assumptions = int(raw), assumptions
    row.updated_by_id, row.updated_at = actor.id, now
    db.session.add(row)
    db.session.flush()
    audit("disclosure.expected_default_rate_set", actor=actor, subject=row, ip_address=ip_address, at=now,
          details={"risk_class": risk_class, "before_bps": before, "after_bps": row.expected_default_rate_bps})
    return row
