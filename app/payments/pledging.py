"""Pledging: check, reserve, charge, record; confirm or abort 3-D Secure; revoke; expire.

Room and money
--------------
A pledge awaiting payment holds room in ``campaigns.reserved_amount``; it never counts in
``raised_amount`` (nor ``backers_count``) until the charge has succeeded. Failure and
expiry give the room back (``campaigns.room`` writes those counters, ``payments.store``
writes the pledge).

Transactions
------------
``create_pledge``, ``confirm_pledge``, ``abort_pledge`` and ``revoke_pledge`` are
boundaries and commit, because a gateway call must sit *between* two commits: the
reservation is committed before the card is charged (no row lock is ever held across a
network call), and the result is recorded in a second transaction. Every gateway call
carries a key derived from the pledge id (``pledge-<id>-charge``, ``-confirm``,
``-refund``), so re-driving a step after a crash or a timeout never moves money twice.
``record_charge_result`` and ``expire_pledge`` only flush: webhooks and jobs call them
and commit themselves.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from app.campaigns import services as campaigns
from app.core.errors import DomainError, NotAllowed, NotFound, StateConflict, ValidationFailed
from app.core.i18n import _
from app.core.permissions import Permission, can
from app.extensions import db
from app.investors import limits
from app.investors import services as investors
from app.payments import ledger, methods, queries, rules, transfers
from app.payments.errors import GatewayUnavailable, PaymentDeclined
from app.payments.gateways import gateway
from app.payments.gateways.base import ChargeResult, GatewayError
from app.payments.models import Pledge, PledgeStatus
from app.payments.refunds import refund_late_charge, refund_pledge
from app.payments.store import store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PledgeOutcome:
    pledge: Pledge
    #: True when an Idempotency-Key matched an earlier request and nothing new happened.
    replayed: bool = False


def charge_key(pledge_id: int) -> str:
    return f"pledge-{pledge_id}-charge"


def confirm_key(pledge_id: int) -> str:
    return f"pledge-{pledge_id}-confirm"


def _commit_keeping(pledge: Pledge) -> None:
    """Commit, keeping the pledge's just-committed column values loaded (no re-SELECT on the hot path)."""
    values = {attr.key: getattr(pledge, attr.key) for attr in inspect(Pledge).column_attrs}
    db.session.commit()
    for key, value in values.items():
        set_committed_value(pledge, key, value)


def create_pledge(actor: Any, campaign_id: int, data: Any, *, now: datetime, idempotency_key: str | None = None,
                  return_url: Callable[[int], str] | None = None, ip_address: str | None = None) -> PledgeOutcome:
    """Check, reserve, commit, charge, record, commit. Raises a DomainError for every refusal.

    :param data: ``{amount, payment_method, currency?, acknowledge_risk?, kiis_version?}``.
    :param idempotency_key: the client's key: the same key with the same ``data`` returns the
        first pledge and charges nothing again; with other data it is a 422.
    :param return_url: builds, from the pledge id, the page where the investor comes back
        after 3-D Secure (the sandbox's stand-in page is that page itself).
    :raises PaymentDeclined: 402 when the card is declined (the pledge is then ``failed``).
    """
    if not can(actor, Permission.INVEST):
        raise NotAllowed(_("Only investors and fund managers pledge."))
    # The campaigns' own visibility rule, on a lean load (no SDGs, no owner: the hot path needs neither).
    campaign = db.session.execute(rules.LEAN_CAMPAIGN, {"campaign_id": campaign_id}).first()
    if campaign is None or not campaigns.can_view(campaign, actor):
        raise NotFound(_("No such campaign."))
    digest = rules.request_hash(campaign_id, data)
    key = rules.clean_key(idempotency_key)
    try:
        pledge = _reserve_pledge(actor, campaign, data, digest, key, now=now, ip_address=ip_address)
    except (DomainError, IntegrityError):
        # Only a refusal looks the key up: a retry of a request that went through gets the
        # first answer even though the round has filled or the limit is used up since, and
        # a duplicate key on insert means a twin request created the pledge a moment ago.
        db.session.rollback()
        existing = queries.find_by_key(actor, key) if key is not None else None
        if existing is None:
            raise
        return _replay(existing, digest, now=now, return_url=return_url)
    if not methods.is_card(pledge.payment_method):
        return PledgeOutcome(pledge)  # paid from the wallet, or waiting for the bank transfer
    return PledgeOutcome(_charge(pledge, now=now, return_url=return_url))


def _reserve_pledge(actor: Any, campaign: Any, data: Any, digest: str, key: str | None, *, now: datetime,
                    ip_address: str | None) -> Pledge:
    """Every check, then the pending pledge and its room, committed together (the first transaction)."""
    clean = rules.load_input(data)
    method = clean["payment_method"]
    if methods.is_card(method) and not gateway().supports_payment_method(method):
        raise ValidationFailed(
            _("Unknown payment method."),
            {"payment_method": [_("Unknown payment method %(id)s.", id=clean["payment_method"])]})
    rules.check_campaign(campaign, clean, now)
    rules.check_conflicts(actor, campaign, staff_may_invest=current_app.config["STAFF_MAY_INVEST"])
    j = investors.current_jurisdiction()
    context = investors.investor_context(actor, now)
    rules.check_readiness(actor, now, j, context)
    facts = context.facts
    if facts is None:
        raise NotAllowed(_("Fill in your investor profile before pledging."))
    amount, currency = clean["amount"], campaign.currency
    if method == methods.BANK_TRANSFER:
        rules.check_transfer_currency(currency, j.currency)
    already = 0
    if limits.annual_cap_applies(facts, j):
        # Held until the reservation commits: this investor's next pledge waits and counts this one.
        investors.hold_profile(context.profile)
        already = queries.pledged_this_year(actor, currency, now, j)
    in_offer = 0
    threshold = limits.warning_threshold(facts.net_worth, j)
    if threshold is not None and amount <= threshold and not limits.is_professional(facts, j):
        in_offer = queries.pledged_in_offer(actor, campaign.id)  # only when it can change the outcome
    decision = limits.check_pledge(facts, amount, currency, now, acknowledged=clean["acknowledge_risk"],
                                   already_pledged_this_year=already, already_in_offer=in_offer, profile=j)
    decision.raise_if_refused()
    fund = context.fund if facts.kind is limits.InvestorKind.FUND else None
    if method == methods.WALLET:
        rules.check_wallet(ledger.locked_balance(ledger.investor_funds(
            currency, user_id=actor.id, fund_id=fund.id if fund else None)), amount, currency)

    pledge = store().insert_reserving(
        dict(campaign_id=campaign.id, investor_id=actor.id, fund_id=fund.id if fund else None, amount=amount,
             currency=currency, status=PledgeStatus.PENDING_PAYMENT.value, payment_method=clean["payment_method"],
             created_at=now, reflection_ends_at=rules.reflection_end(facts, now, j),
             kiis_version=campaign.current_kiis_version, idempotency_key=key, request_hash=digest),
        {"actor": actor, "ip_address": ip_address, "at": now,
         "details": {"campaign_id": campaign.id, "amount": amount, "currency": currency,
                     "kiis_version": campaign.current_kiis_version,
                     "risk_acknowledged": bool(clean["acknowledge_risk"])}},
        now=now)
    if method == methods.WALLET:
        store().pay(pledge, None, now=now)  # reserved and paid in one transaction: no gateway call
    elif method == methods.BANK_TRANSFER:
        transfers.instruct(pledge, actor, now=now)
    _commit_keeping(pledge)
    return pledge


def _replay(existing: Pledge, digest: str, *, now: datetime, return_url: Callable[[int], str] | None) -> PledgeOutcome:
    if existing.request_hash != digest:
        raise ValidationFailed(_("This Idempotency-Key was used for a different request."),
                                     {"Idempotency-Key": [_("Already used with another body; use a new key.")]})
    if (existing.status == PledgeStatus.PENDING_PAYMENT and existing.gateway_reference is None
            and methods.is_card(existing.payment_method)):
        # The first attempt never learnt the charge's outcome (timeout, crash): ask again
        # with the same gateway key, which cannot charge twice.
        return PledgeOutcome(_charge(existing, now=now, return_url=return_url), replayed=True)
    if existing.status == PledgeStatus.FAILED:
        raise PaymentDeclined(existing.failure_message or _("The payment failed."),
                              {"payment_method": [existing.failure_message or _("The payment failed.")]},
                              pledge_id=existing.id)
    return PledgeOutcome(existing, replayed=True)


def _charge(pledge: Pledge, *, now: datetime, return_url: Callable[[int], str] | None) -> Pledge:
    try:
        result = gateway().charge(
            amount=pledge.amount, currency=pledge.currency, payment_method=pledge.payment_method,
            idempotency_key=charge_key(pledge.id),
            metadata={"pledge_id": str(pledge.id), "campaign_id": str(pledge.campaign_id)},
            return_url=return_url(pledge.id) if return_url else "",
        )
    except GatewayError as exc:
        log.warning("charge for pledge %s failed to reach the gateway: %s", pledge.id, exc)
        raise GatewayUnavailable(_("The payment provider did not answer. Try again with the same Idempotency-Key; "
                                   "you will not be charged twice.")) from exc
    record_charge_result(pledge, result, now=now)
    _commit_keeping(pledge)
    _raise_if_failed(pledge)
    return pledge


def _raise_if_failed(pledge: Pledge) -> None:
    if pledge.status == PledgeStatus.FAILED:
        message = pledge.failure_message or _("The payment failed.")
        raise PaymentDeclined(message, {"payment_method": [message]}, pledge_id=pledge.id)


def record_charge_result(pledge: Pledge, result: ChargeResult, *, now: datetime) -> Pledge:
    """Apply what the gateway says about the pledge's charge. Idempotent; flushes, never commits.

    The one place a charge outcome lands, whether it comes from the charge call, the 3-D
    Secure confirmation, a webhook or reconciliation. A charge that succeeds after the
    pledge already failed or expired (its room given away) is refunded at once.
    """
    if result.status == "succeeded":
        # No audit entry here: the ledger transaction is the record of the payment, and
        # the hash-chained audit log's commit lock would sit on the hot campaign row.
        if not store().pay(pledge, result.reference, now=now) and pledge.status in (
                PledgeStatus.FAILED, PledgeStatus.EXPIRED) and pledge.refunded_at is None:
            refund_late_charge(pledge, result, now=now)
        return pledge
    if result.status in ("requires_action", "processing"):
        store().await_action(pledge, reference=result.reference, next_action_url=result.next_action_url)
        return pledge
    store().fail(pledge, now=now, reference=result.reference, code=result.failure_code,
                 message=result.failure_message or _("The payment failed."))
    return pledge


def reconcile_pledge(pledge: Pledge, *, now: datetime) -> Pledge:
    """Re-read the charge from the gateway and apply it (webhooks, the return from 3-D Secure)."""
    if pledge.gateway_reference is None:
        return pledge
    return record_charge_result(pledge, gateway().retrieve(pledge.gateway_reference), now=now)


def _not_waiting(pledge: Pledge) -> StateConflict:
    return StateConflict(_("This pledge is not waiting for a confirmation (it is %(status)s).",
                           status=pledge.status.replace("_", " ")))


def confirm_pledge(pledge_id: int, actor: Any, *, now: datetime) -> Pledge:
    """The investor passed the 3-D Secure step: finish the charge and record it. Commits."""
    pledge = queries.get_own_pledge(pledge_id, actor)
    if pledge.status != PledgeStatus.PENDING_PAYMENT or pledge.gateway_reference is None:
        raise _not_waiting(pledge)
    try:
        result = gateway().confirm(reference=pledge.gateway_reference, idempotency_key=confirm_key(pledge.id))
    except GatewayError as exc:
        raise GatewayUnavailable(_("The payment provider did not answer. Try again.")) from exc
    record_charge_result(pledge, result, now=now)
    db.session.commit()
    _raise_if_failed(pledge)
    return pledge


def abort_pledge(pledge_id: int, actor: Any, *, now: datetime) -> Pledge:
    """The investor cancelled the 3-D Secure step: the pledge fails and frees its room. Commits."""
    pledge = queries.get_own_pledge(pledge_id, actor)
    if pledge.status != PledgeStatus.PENDING_PAYMENT:
        raise _not_waiting(pledge)
    record_charge_result(pledge, ChargeResult("failed", pledge.gateway_reference or "", "authentication_cancelled",
                                              _("You cancelled the card authentication.")), now=now)
    db.session.commit()
    return pledge


def revoke_pledge(pledge_id: int, actor: Any, *, now: datetime, ip_address: str | None = None) -> Pledge:
    """Revoke during the reflection period and refund through the gateway. Commits twice.

    The pledge stops counting toward the round in the first transaction; the refund is
    asked for after that commit. If the gateway is unreachable the pledge stays
    ``revoked`` and the "refund revoked pledges" sweep finishes the refund later.
    """
    pledge = queries.get_own_pledge(pledge_id, actor)
    if pledge.status == PledgeStatus.REVOKED or pledge.refund_reason == "revoked":
        raise StateConflict(_("This pledge is already revoked."), {"status": [pledge.status]})
    if pledge.status != PledgeStatus.PAID:
        raise StateConflict(_("Only a paid pledge can be revoked; this one is %(status)s.",
                              status=pledge.status.replace("_", " ")), {"status": [pledge.status]})
    if pledge.reflection_ends_at is None:
        raise StateConflict(_("This pledge has no reflection period."), {"reflection_ends_at": [_("None applies.")]})
    if now >= pledge.reflection_ends_at:
        raise StateConflict(_("The reflection period ended on %(deadline)s.",
                              deadline=pledge.reflection_ends_at.strftime("%Y-%m-%d %H:%M UTC")),
                            {"reflection_ends_at": [_("Passed.")]})
    if not store().revoke(pledge, now=now, actor=actor, ip_address=ip_address):
        raise StateConflict(_("This pledge can no longer be revoked (it is %(status)s).",
                              status=pledge.status.replace("_", " ")), {"status": [pledge.status]})
    db.session.commit()
    try:
        refund_pledge(pledge, now=now, reason="revoked")
    except GatewayError as exc:
        db.session.rollback()
        log.warning("refund of revoked pledge %s deferred: %s", pledge.id, exc)
        return db.session.get(Pledge, pledge_id)
    db.session.commit()
    return pledge


def expire_pledge(pledge: Pledge, *, now: datetime) -> bool:
    """Expire one pledge left unpaid; True if it expired now. Flushes; the sweep commits per item.

    A pledge with a charge is reconciled with the gateway first (the investor may have
    paid a moment ago, and then it is recorded as paid instead). The conditional UPDATE is
    the claim, so two sweeps at once expire each pledge once.

    :raises GatewayError: the gateway could not be asked; leave the pledge for the next sweep.
    """
    if pledge.status != PledgeStatus.PENDING_PAYMENT:
        return False
    if pledge.gateway_reference is not None:
        reconcile_pledge(pledge, now=now)
    return pledge.status == PledgeStatus.PENDING_PAYMENT and store().expire(
        pledge, now=now, message=_("The payment was not completed in time."))


def settle_pledge(pledge: Pledge, *, now: datetime) -> bool:
    """Mark a paid pledge as paid out to the owner (the payout job posts the settlement). Flushes."""
    return store().settle(pledge, now=now)
