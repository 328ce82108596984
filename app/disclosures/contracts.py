"""The register of contracts (259-FZ Art. 11): one record per investment contract concluded
through the platform, with the parties, the offer and version it was made on, the amount,
and when the investor joined the platform and acknowledged its risks.

A contract is concluded when the investor's money reaches the platform (the pledge is
paid), so only pledges that were ever paid are contracts; one later revoked or refunded
stays in the register as terminated, with the day. Streamed like the pledge ledger, since
the register grows with every investment.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select

from app.accounts.models import User
from app.campaigns.models import Campaign
from app.core.money import minor_digits
from app.core.spreadsheets import inert
from app.disclosures.exports import DateRange, csv_stream
from app.investors.models import Fund, InvestorProfile
from app.payments.models import Pledge, PledgeStatus

COLUMNS = ("record_no", "concluded_at", "contract", "status", "terminated_at", "termination",
           "campaign_id", "investment_proposal", "kiis_version",
           "raiser_legal_form", "raiser_name", "raiser_registration_country", "raiser_registration_number",
           "investor_id", "investor_kind", "investor_name", "investor_country", "investor_joined_at",
           "risks_acknowledged_at", "amount", "currency", "payment_method")
_TERMINATED = {PledgeStatus.REVOKED.value: "revoked by the investor",
               PledgeStatus.REFUNDED.value: "refunded"}


def _stamp(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _major(amount: int, currency: str) -> str:
    digits = minor_digits(currency)
    return f"{amount / 10**digits:.{digits}f}" if digits else str(amount)


def statement(rng: DateRange) -> Any:
    """Contracts concluded in ``rng`` (by the day the money was received), oldest first."""
    investor, owner = User.__table__.alias("investor"), User.__table__.alias("owner")
    p, c, f, prof = Pledge.__table__, Campaign.__table__, Fund.__table__, InvestorProfile.__table__
    query = (
        select(p.c.id, p.c.paid_at, c.c.instrument_type, p.c.status, p.c.revoked_at, p.c.refunded_at,
               c.c.id.label("campaign_id"), c.c.title, p.c.kiis_version,
               c.c.owner_legal_form, func.coalesce(c.c.owner_legal_name, owner.c.name).label("raiser_name"),
               func.coalesce(c.c.owner_registration_country, owner.c.country).label("raiser_country"),
               c.c.owner_registration_number,
               p.c.investor_id, case((p.c.fund_id.is_not(None), "fund"), else_="person").label("kind"),
               func.coalesce(f.c.name, prof.c.legal_name, investor.c.name).label("investor_name"),
               func.coalesce(f.c.country, prof.c.country, investor.c.country).label("investor_country"),
               investor.c.created_at.label("joined_at"), prof.c.acknowledged_at,
               p.c.amount, p.c.currency, p.c.payment_method)
        .select_from(p.join(c, c.c.id == p.c.campaign_id).join(owner, owner.c.id == c.c.owner_id)
                     .join(investor, investor.c.id == p.c.investor_id)
                     .outerjoin(f, f.c.id == p.c.fund_id).outerjoin(prof, prof.c.user_id == p.c.investor_id))
        .where(p.c.paid_at.is_not(None))
        .order_by(p.c.paid_at, p.c.id)
    )
    if rng.start is not None:
        query = query.where(p.c.paid_at >= rng.start)
    if rng.end is not None:
        query = query.where(p.c.paid_at < rng.end)
    return query


def _row(r: Any) -> list[Any]:
    terminated_at = r.revoked_at or r.refunded_at if r.status in _TERMINATED else None
    contract = "loan agreement" if r.instrument_type == "loan" else "donation"
    return [r.id, _stamp(r.paid_at), contract, "terminated" if r.status in _TERMINATED else "in force",
            _stamp(terminated_at), _TERMINATED.get(r.status, ""), r.campaign_id, inert(r.title), r.kiis_version or "",
            r.owner_legal_form or "", inert(r.raiser_name or ""), r.raiser_country or "",
            inert(r.owner_registration_number or ""), r.investor_id, r.kind, inert(r.investor_name or ""),
            r.investor_country or "", _stamp(r.joined_at), _stamp(r.acknowledged_at),
            _major(r.amount, r.currency), r.currency,
            r.payment_method if r.payment_method in ("wallet", "bank_transfer") else "card"]


def register_csv(bind: Any, rng: DateRange) -> Iterator[bytes]:
    """The register in ``rng`` as CSV bytes, streamed like the exports."""
    return csv_stream(bind, statement(rng), COLUMNS, _row)
