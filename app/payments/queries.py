"""Reading pledges: whose they are, who may see them, and the operator's view of a round's money."""

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from app.campaigns import services as campaigns
from app.core.errors import NotFound
from app.core.i18n import _
from app.core.permissions import Role
from app.extensions import db
from app.investors import limits
from app.investors import services as investors
from app.payments import ledger
from app.payments.models import LIVE_STATUSES, Pledge, PledgeStatus


def _is_operator(actor: Any) -> bool:
    return actor is not None and Role.OPERATOR.value in getattr(actor, "role_names", set())


def _owner_filter(actor: Any):
    """Whose pledges ``actor`` calls "mine": a fund manager's are the fund's."""
    fund = investors.fund_for(actor)
    if fund is not None:
        return Pledge.fund_id == fund.id
    return (Pledge.investor_id == actor.id) & Pledge.fund_id.is_(None)


def pledges_query(actor: Any) -> Select[Any]:
    """The actor's own pledges, newest first."""
    return select(Pledge).where(_owner_filter(actor)).order_by(Pledge.created_at.desc(), Pledge.id.desc())


def is_own(pledge: Pledge, actor: Any) -> bool:
    """Whether the pledge is the actor's (or their fund's): revoking and confirming are theirs alone."""
    if actor is None:
        return False
    if pledge.fund_id is not None:
        fund = investors.fund_for(actor)
        return fund is not None and fund.id == pledge.fund_id
    return pledge.investor_id == actor.id


def get_pledge(pledge_id: int, actor: Any) -> Pledge:
    """The pledge for its investor (or fund) and the operator; NotFound for anyone else."""
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or not (is_own(pledge, actor) or _is_operator(actor)):
        raise NotFound(_("No such pledge."))
    return pledge


def get_own_pledge(pledge_id: int, actor: Any) -> Pledge:
    """The pledge only for its investor (or fund)."""
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or not is_own(pledge, actor):
        raise NotFound(_("No such pledge."))
    return pledge


def find_by_key(actor: Any, key: str) -> Pledge | None:
    """The actor's pledge made under an Idempotency-Key."""
    return db.session.scalar(select(Pledge).where(Pledge.investor_id == actor.id, Pledge.idempotency_key == key))


def find_by_reference(reference: str) -> Pledge | None:
    """The pledge a gateway charge belongs to (for webhooks)."""
    return db.session.scalar(select(Pledge).where(Pledge.gateway_reference == reference))


def is_revocable(pledge: Pledge, now: datetime) -> bool:
    return (pledge.status == PledgeStatus.PAID and pledge.reflection_ends_at is not None
            and now < pledge.reflection_ends_at)


def campaign_pledges(campaign_id: int) -> list[Pledge]:
    return list(db.session.scalars(select(Pledge).where(Pledge.campaign_id == campaign_id).order_by(Pledge.id)))


def pledged_this_year(actor: Any, currency: str, now: datetime, j: limits.JurisdictionProfile) -> int:
    """This platform's live pledges by the investor in the calendar year of ``now`` (for the limits)."""
    start, end = limits.year_bounds(limits.calendar_year(now, j), j)
    total = db.session.scalar(
        select(func.coalesce(func.sum(Pledge.amount), 0)).where(
            _owner_filter(actor), Pledge.currency == currency,
            Pledge.status.in_([s.value for s in LIVE_STATUSES]),
            Pledge.created_at >= start, Pledge.created_at < end))
    return int(total or 0)


def pledged_in_offer(actor: Any, campaign_id: int) -> int:
    """The investor's live pledges to one offer: the Art. 21(7) warning threshold applies to
    their total there, so splitting a pledge does not avoid the warning."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(Pledge.amount), 0)).where(
            _owner_filter(actor), Pledge.campaign_id == campaign_id,
            Pledge.status.in_([s.value for s in LIVE_STATUSES])))
    return int(total or 0)


def campaign_money(campaign_id: int, actor: Any) -> dict:
    """Escrow balance, ledger transactions and pledges of a campaign (operator only)."""
    if not _is_operator(actor):
        raise NotFound(_("No such campaign."))
    campaign = campaigns.get_visible(campaign_id, actor)
    return {
        "campaign": campaign,
        "escrow_balance": ledger.escrow_balance(campaign.id),
        "transactions": ledger.transactions_for_campaign(campaign.id),
        "pledges": campaign_pledges(campaign.id),
    }
