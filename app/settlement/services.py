"""Refund failed rounds, pay out successful ones. Flush; the sweeps commit per row.

Order of a payout, chosen so a crash at any point is finished by the next sweep:
1. the Payout row (unique per campaign) and the settlement ledger transaction
   (escrow → fee + owner payable) in one transaction with the pledges marked settled,
   the campaign moved on and the loan schedule created — committed together;
2. in a later transaction (the "send payouts" sweep), the gateway transfer with key
   ``payout-<id>``, then ``sent`` and the payout ledger transaction. If the process dies
   between the transfer and the commit, the next sweep repeats the call with the same
   key and the gateway answers with the first transfer.
"""

from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select

from app.accounts.models import User
from app.campaigns import services as campaigns
from app.campaigns.models import Campaign, CampaignStatus
from app.core.audit import audit
from app.core.errors import NotFound, StateConflict, ValidationFailed
from app.core.money import format_money
from app.extensions import db
from app.loans import services as loans
from app.notifications.services import enqueue
from app.payments import ledger
from app.payments import services as payments
from app.payments.gateways import gateway
from app.payments.models import Pledge, PledgeStatus
from app.settlement.lifecycle import PAYOUT, PayoutEvent
from app.settlement.models import Payout, PayoutAccount, PayoutStatus


def _money_in(user: Any):
    """Amounts formatted the way the e-mail's reader writes them."""
    locale = getattr(user, "locale", None) or "en"
    return lambda amount, currency: format_money(amount, currency, locale)


def payable(now: datetime):
    """Successful rounds with no payout yet and every reflection period over (``settle_round``
    pays out, or fails a round that revocations took below its target, even to nothing)."""
    open_reflection = exists().where(
        Pledge.campaign_id == Campaign.id, Pledge.status.in_([PledgeStatus.PAID, PledgeStatus.PENDING_PAYMENT]),
        Pledge.reflection_ends_at.is_not(None), Pledge.reflection_ends_at > now)
    pending = exists().where(Pledge.campaign_id == Campaign.id, Pledge.status == PledgeStatus.PENDING_PAYMENT)
    revoked_unrefunded = exists().where(Pledge.campaign_id == Campaign.id, Pledge.status == PledgeStatus.REVOKED)
    paid_out = exists().where(Payout.campaign_id == Campaign.id)
    return ((Campaign.status == CampaignStatus.SUCCESSFUL) & ~open_reflection & ~pending
            & ~revoked_unrefunded & ~paid_out)


def settle_round(campaign: Campaign, *, now: datetime) -> Payout | None:
    """Step 1: settle the escrow, mark pledges settled, start the loan (or complete a donation).

    Every reflection period is over by now, so what is paid is final: if revocations took
    the round below its target, it fails instead (None), and the refund sweep returns the rest.
    """
    pledges = list(db.session.scalars(select(Pledge).where(
        Pledge.campaign_id == campaign.id, Pledge.status == PledgeStatus.PAID).order_by(Pledge.id)))
    gross = sum(p.amount for p in pledges)
    if gross < campaign.target_amount:
        _fail_below_target(campaign, gross, now=now)
        return None
    # The fee the KIIS disclosed is the fee charged; a donation has no KIIS and pays today's fee.
    fee_bps = campaigns.disclosed_fee_bps(campaign)
    fee = gross * (current_app.config["PLATFORM_FEE_BPS"] if fee_bps is None else fee_bps) // 10_000
    payout = Payout(campaign_id=campaign.id, owner_id=campaign.owner_id, currency=campaign.currency, gross=gross,
                    fee=fee, status=PayoutStatus.AWAITING_BANK_TRANSFER.value, created_at=now)
    db.session.add(payout)
    db.session.flush()
    ledger.post_settlement(campaign_id=campaign.id, owner_id=campaign.owner_id, currency=campaign.currency,
                           gross=gross, fee=fee, now=now)
    for pledge in pledges:
        payments.settle_pledge(pledge, now=now)
    if campaign.instrument_type == "loan":
        campaigns.start_repaying(campaign, now=now)
        loans.create_loan(campaign, gross, now=now)
    else:
        campaigns.complete(campaign, now=now)
    owner = db.session.get(User, campaign.owner_id)
    money = _money_in(owner)
    enqueue(owner, kind="round_result", dedupe_key=f"payout-{payout.id}-owner", now=now,
            subject=_l("Funds on their way: %(title)s", title=campaign.title),
            body=_l("Your round raised %(gross)s. After the platform fee of %(fee)s you receive %(net)s.",
                    gross=money(gross, campaign.currency), fee=money(fee, campaign.currency),
                    net=money(gross - fee, campaign.currency)))
    for pledge in pledges:
        investor = db.session.get(User, pledge.investor_id)
        enqueue(investor, kind="round_result", now=now, dedupe_key=f"round-{campaign.id}-success-{pledge.id}",
                subject=_l("Funded: %(title)s", title=campaign.title),
                body=_l("%(title)s reached its target. Your %(amount)s now finances the project; the repayment "
                        "schedule is on your portfolio page.", title=campaign.title,
                        amount=_money_in(investor)(pledge.amount, pledge.currency)))
    audit("payout.settled", subject=campaign, details={"payout_id": payout.id, "gross": gross, "fee": fee}, at=now)
    # The transfer is the "send payouts" sweep's job, after this commit: its key must
    # name a payout row that exists, or a crash here could pay twice under two keys.
    return payout


def _fail_below_target(campaign: Campaign, gross: int, *, now: datetime) -> None:
    campaigns.fail_below_target(campaign, raised=gross, now=now)
    owner = db.session.get(User, campaign.owner_id)
    enqueue(owner, kind="round_result", dedupe_key=f"round-{campaign.id}-revoked-below-target", now=now,
            subject=_l("Round not funded: %(title)s", title=campaign.title),
            body=_l("Investors revoked pledges during their reflection periods, so %(title)s ended with %(raised)s "
                    "of its %(target)s target. The round did not go ahead; every remaining investor is refunded.",
                    title=campaign.title, raised=_money_in(owner)(gross, campaign.currency),
                    target=_money_in(owner)(campaign.target_amount, campaign.currency)))


def sendable(now: datetime):
    """Payouts settled but not sent, whose owner has a connected account."""
    return (Payout.status == PayoutStatus.AWAITING_BANK_TRANSFER) & exists().where(
        PayoutAccount.user_id == Payout.owner_id)


def send_payout(payout: Payout, *, now: datetime) -> None:
    """Step 2: transfer to the owner's connected account (if any), with key ``payout-<id>``."""
    account = db.session.scalar(select(PayoutAccount).where(PayoutAccount.user_id == payout.owner_id))
    if account is None or payout.net == 0:
        return  # the operator pays by bank transfer and records it
    result = gateway().payout(destination=account.account_reference, amount=payout.net, currency=payout.currency,
                              transfer_group=f"campaign-{payout.campaign_id}", idempotency_key=f"payout-{payout.id}",
                              metadata={"campaign_id": str(payout.campaign_id), "payout_id": str(payout.id)})
    if result.status == "failed":
        raise RuntimeError(f"payout {payout.id} refused: {result.failure_message}")
    _mark_sent(payout, reference=result.reference, now=now)


def _mark_sent(payout: Payout, *, reference: str, now: datetime) -> None:
    PAYOUT.move(payout, PayoutEvent.SEND)
    payout.reference = reference
    payout.sent_at = now
    ledger.post_payout_sent(campaign_id=payout.campaign_id, owner_id=payout.owner_id, currency=payout.currency,
                            amount=payout.net, now=now, idempotency_key=f"payout-{payout.id}-sent")
    audit("payout.sent", subject_type="payouts", subject_id=payout.id, details={"reference": reference}, at=now)


def record_bank_transfer(payout_id: int, actor: Any, reference: str, *, now: datetime) -> Payout:
    """The operator paid an owner without a connected account by bank transfer."""
    payout = db.session.get(Payout, payout_id)
    if payout is None:
        raise NotFound("No such payout.")
    if payout.status == PayoutStatus.SENT:
        raise StateConflict("This payout is already recorded as sent.")
    reference = (reference or "").strip()
    if not 3 <= len(reference) <= 100:
        raise ValidationFailed("The bank reference is invalid.",
                               {"reference": ["Give the bank's reference (3–100 characters)."]})
    _mark_sent(payout, reference=reference, now=now)
    audit("payout.bank_transfer_recorded", actor=actor, subject_type="payouts", subject_id=payout.id, at=now)
    return payout


def connect_payout_account(owner: Any, *, now: datetime) -> PayoutAccount:
    """Open the owner's connected payout account at the gateway (once)."""
    existing = db.session.scalar(select(PayoutAccount).where(PayoutAccount.user_id == owner.id))
    if existing is not None:
        return existing
    reference = gateway().create_connected_account(email=owner.email, country=owner.country,
                                                   idempotency_key=f"owner-{owner.id}-account")
    account = PayoutAccount(user_id=owner.id, gateway=gateway().name, account_reference=reference, created_at=now)
    db.session.add(account)
    db.session.flush()
    audit("payout.account_connected", actor=owner, subject=owner, at=now)
    return account


def awaiting_bank_transfer() -> list[Payout]:
    return list(db.session.scalars(select(Payout).where(
        Payout.status == PayoutStatus.AWAITING_BANK_TRANSFER).order_by(Payout.created_at)))


def payout_for(campaign_id: int) -> Payout | None:
    return db.session.scalar(select(Payout).where(Payout.campaign_id == campaign_id))


def payout_account(user_id: int) -> PayoutAccount | None:
    return db.session.scalar(select(PayoutAccount).where(PayoutAccount.user_id == user_id))
