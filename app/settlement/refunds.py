"""Refund failed and cancelled rounds, by the batch.

Which pledges are due (paid, of a round that failed or was cancelled), how a batch of them
is claimed, and the investors' e-mails; the money and its records are
``payments.refunds.refund_round_batch``'s. One batch is one transaction: claimed with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (two schedulers split the work; SQLite serialises
writers with ``BEGIN IMMEDIATE``), one gateway refund per pledge, then the pledges, their
postings, audit entries and e-mails recorded together and committed. A process killed in
between recorded nothing, and the next sweep repeats the same gateway keys.
"""

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select

from app.accounts.models import User
from app.campaigns.models import Campaign, CampaignStatus
from app.core.money import format_money
from app.extensions import db
from app.jobs.sweep import BatchOutcome
from app.notifications.services import enqueue, enqueue_many
from app.payments import methods
from app.payments.models import Pledge, PledgeStatus
from app.payments.refunds import refund_pledge, refund_round_batch

#: Pledges per batch: per batch one claim, one account lookup, one recording statement on
#: PostgreSQL (a few on SQLite), one outbox insert and one commit.
BATCH_SIZE = 500

_OVER = (CampaignStatus.FAILED.value, CampaignStatus.CANCELLED.value)


_CARD = (Pledge.payment_method != methods.WALLET) & (Pledge.payment_method != methods.BANK_TRANSFER)


def due(now: datetime):
    """Paid card pledges of rounds that failed or were cancelled (refunded to the card, by the batch)."""
    return (Pledge.status == PledgeStatus.PAID) & _CARD & Pledge.campaign_id.in_(
        select(Campaign.id).where(Campaign.status.in_(_OVER)))


def due_to_wallet(now: datetime):
    """Paid wallet and bank-transfer pledges of rounds that failed or were cancelled: their money
    goes back to the wallet, with no gateway call, one pledge at a time."""
    return (Pledge.status == PledgeStatus.PAID) & ~_CARD & Pledge.campaign_id.in_(
        select(Campaign.id).where(Campaign.status.in_(_OVER)))


def refund_to_wallet(pledge: Pledge, now: datetime) -> None:
    """One wallet or bank-transfer pledge of a round that is over, back into the wallet, and its e-mail."""
    campaign = db.session.get(Campaign, pledge.campaign_id)
    reason = "round_cancelled" if campaign.status == CampaignStatus.CANCELLED else "round_failed"
    refund_pledge(pledge, now=now, reason=reason)
    investor = db.session.get(User, pledge.investor_id)
    why = _l("the round was cancelled") if reason == "round_cancelled" else _l("the round did not reach its target")
    enqueue(investor, kind="refund", dedupe_key=f"refund-{pledge.id}", now=now,
            subject=_l("Refund: %(title)s", title=campaign.title),
            body=_l("The round of %(title)s did not go ahead (%(why)s). Your pledge of %(amount)s is back in your "
                    "wallet: reinvest it or withdraw it to your bank account.", title=campaign.title, why=why,
                    amount=_money(pledge.amount, pledge.currency)))


_CLAIM = (select(Pledge.id, Pledge.campaign_id, Pledge.investor_id, Pledge.fund_id, Pledge.amount, Pledge.currency,
                 Pledge.payment_method, Pledge.gateway_reference, Campaign.status.label("campaign_status"),
                 Campaign.title.label("campaign_title"), User.email)
          .join(Campaign, Campaign.id == Pledge.campaign_id)
          .outerjoin(User, User.id == Pledge.investor_id)
          .where(Pledge.status == PledgeStatus.PAID.value, _CARD,
                 (Campaign.status == _OVER[0]) | (Campaign.status == _OVER[1]),
                 Pledge.id > bindparam("after"))
          .order_by(Pledge.id).limit(bindparam("size"))
          .with_for_update(skip_locked=True, of=Pledge))


def claim(now: datetime, after: int, size: int) -> Sequence[Any]:
    """Lock up to ``size`` due pledges above id ``after`` (plain rows, with their round and investor)."""
    return db.session.execute(_CLAIM, {"after": after, "size": size}).all()


def _reason(row: Any) -> str:
    return "round_cancelled" if row.campaign_status == CampaignStatus.CANCELLED else "round_failed"


@lru_cache(maxsize=4096)
def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency)


def refund_batch(rows: Sequence[Any], now: datetime) -> BatchOutcome:
    """Refund the claimed pledges and queue each refunded investor's e-mail (as the per-pledge
    refund did: kind "refund", key ``refund-<pledge id>``). Flushes; the sweep commits."""
    refunds = refund_round_batch([(row, _reason(row)) for row in rows], now=now)
    refunded = set(refunds.refunded)
    enqueue_many([
        {"user_id": row.investor_id, "to_address": row.email, "kind": "refund", "dedupe_key": f"refund-{row.id}",
         "subject": f"Refund: {row.campaign_title}",
         "body": f"The round of {row.campaign_title} did not go ahead ({_reason(row).replace('_', ' ')}). "
                 f"Your pledge of {_money(row.amount, row.currency)} has been refunded to your card."}
        for row in rows if row.id in refunded], now=now)
    return BatchOutcome(done=len(refunded), failed=refunds.failed)
