"""Collecting instalments: the owner's repayment mandate, the daily collection on the due date,
paying by hand through the API, and the schedule as owners and the operator read it.

The mandate is the gateway's reusable reference to the owner's payment method (the sandbox
accepts its test cards as they are; Stripe saves the card with a SetupIntent for off-session
use). Collection claims each instalment for the day with a conditional UPDATE of
``collection_attempted_on`` and commits before the gateway call, so two schedulers never
collect the same instalment twice on one day, and ``pay_instalment``'s own claim makes a
retry repeat the first charge's key instead of charging anew.
"""

import hashlib
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate
from sqlalchemy import or_, select, update

from app.accounts.models import User
from app.campaigns.models import Campaign
from app.core.audit import audit
from app.core.boundaries import MAX_ID
from app.core.errors import NotAllowed, NotFound, StateConflict, ValidationFailed, load
from app.core.i18n import _
from app.core.money import format_money
from app.core.permissions import Permission, can
from app.extensions import db
from app.loans import services
from app.loans.models import Instalment, InstalmentStatus, Loan, LoanStatus
from app.notifications.services import enqueue
from app.payments.errors import PaymentDeclined
from app.payments.gateways import gateway

#: The attempt names of collections by mandate; ``pay_instalment`` charges them off-session.
MANDATE_ATTEMPT = "mandate-"


class MandateInputSchema(Schema):
    payment_method = fields.String(required=True, allow_none=True, validate=validate.Length(min=1, max=100),
                                   metadata={"description": "a payment method id; null removes the mandate"})


class PayInputSchema(Schema):
    payment_method = fields.String(required=True, validate=validate.Length(min=1, max=100))


_MANDATE_INPUT = MandateInputSchema()
_PAY_INPUT = PayInputSchema()


# --- the schedule -----------------------------------------------------------------------------


def own_campaign(campaign_id: int, actor: Any) -> Campaign:
    """The actor's campaign, or any campaign for the operator; 403 for other roles, 404 for
    another owner's (nobody learns which campaigns exist through a refusal)."""
    if not (can(actor, Permission.CREATE_CAMPAIGN) or can(actor, Permission.REVIEW_CAMPAIGNS)):
        raise NotAllowed(_("Only the campaign's owner and the operator see its repayments."))
    campaign = db.session.get(Campaign, campaign_id) if 0 < campaign_id <= MAX_ID else None
    if campaign is None or (campaign.owner_id != actor.id and not can(actor, Permission.REVIEW_CAMPAIGNS)):
        raise NotFound(_("No such campaign."))
    return campaign


def shown_status(instalment: Instalment, loan: Loan) -> str:
    """The instalment's status as the contract names it: an unpaid one of a defaulted loan is ``defaulted``."""
    if loan.status == LoanStatus.DEFAULTED and instalment.status != InstalmentStatus.PAID:
        return "defaulted"
    return instalment.status


def schedule(campaign_id: int, actor: Any) -> list[dict]:
    """Every instalment of the campaign's loan in order (empty before the round is paid out)."""
    campaign = own_campaign(campaign_id, actor)
    loan = services.loan_for(campaign.id)
    if loan is None:
        return []
    return [{"id": i.id, "number": i.number, "due_on": i.due_at.date(), "amount": i.total, "principal": i.principal,
             "interest": i.interest, "status": shown_status(i, loan), "paid_at": i.paid_at}
            for i in loan.instalments]


# --- the mandate ------------------------------------------------------------------------------


def mandate_method(campaign: Campaign) -> str | None:
    """The payment method id the owner gave (the gateway's reference may carry more)."""
    ref = campaign.repayment_mandate
    return ref.rsplit("/", 1)[-1] if ref else None


def set_mandate(campaign_id: int, actor: Any, data: Any, *, now: datetime, ip_address: str | None = None) -> Campaign:
    """Store (replace) or, with ``payment_method: null``, remove the owner's repayment mandate.

    422 naming ``payment_method`` when the gateway cannot save it for later collection;
    nothing is stored then. Commits nothing: the route does.
    """
    campaign = own_campaign(campaign_id, actor)
    if campaign.owner_id != actor.id:
        raise NotFound(_("No such campaign."))
    method = load(_MANDATE_INPUT, data, lambda: _("The mandate is invalid."))["payment_method"]
    if method is None:
        campaign.repayment_mandate = campaign.repayment_mandate_set_at = None
        action = "loan.mandate_removed"
    else:
        method = method.strip()
        refused = {"payment_method": [_("This payment method cannot be used for automatic collection.")]}
        if not gateway().supports_payment_method(method):
            raise ValidationFailed(_("The payment method is not one the platform can collect from."), refused)
        digest = hashlib.sha256(f"{campaign.id}:{method}".encode()).hexdigest()[:24]
        reference = gateway().save_mandate(method, idempotency_key=f"mandate-{campaign.id}-{digest}")
        if reference is None:
            raise ValidationFailed(_("The payment method cannot be saved for automatic collection."), refused)
        campaign.repayment_mandate, campaign.repayment_mandate_set_at = reference, now
        action = "loan.mandate_set"
    db.session.flush()
    audit(action, actor=actor, subject=campaign, ip_address=ip_address, at=now,
          details={"payment_method": mandate_method(campaign)})
    return campaign


# --- paying by hand -------------------------------------------------------------------------


def pay_by_hand(instalment_id: int, actor: Any, data: Any, *, now: datetime,
                idempotency_key: str | None = None) -> tuple[Instalment, bool]:
    """Pay a due or overdue instalment now (a boundary: it commits). Returns it and whether
    this was a replay of a request that already paid it (same Idempotency-Key).

    404 for another owner's instalment, 409 if already paid or not due, 402 if declined.
    """
    instalment = services.owner_instalment(instalment_id if 0 < instalment_id <= MAX_ID else 0, actor)
    method = load(_PAY_INPUT, data, lambda: _("The payment is invalid."))["payment_method"].strip()
    if idempotency_key is not None:
        key = idempotency_key.strip()
        if not 1 <= len(key) <= 255:
            raise ValidationFailed(_("The Idempotency-Key is invalid."),
                                   {"Idempotency-Key": [_("Use 1 to 255 characters.")]})
        # The key's digest, then the body's: the same key with another body is told apart.
        keyed = "api-" + hashlib.sha256(key.encode()).hexdigest()[:20]
        attempt = keyed + hashlib.sha256(method.encode()).hexdigest()[:12]
        if instalment.status == InstalmentStatus.PAID and instalment.paid_key:
            if instalment.paid_key == services.charge_key(instalment.id, attempt):
                return instalment, True
            if instalment.paid_key.startswith(services.charge_key(instalment.id, keyed)):
                raise ValidationFailed(_("This Idempotency-Key was used for a different request."),
                                       {"Idempotency-Key": [_("Already used with another body; use a new key.")]})
    else:
        attempt = "api-" + hashlib.sha256(f"{now.isoformat()}:{id(data)}".encode()).hexdigest()[:32]
    if not gateway().supports_payment_method(method):
        raise ValidationFailed(_("The payment method is not one the platform can charge."),
                               {"payment_method": [_("Unknown payment method.")]})
    return services.pay_instalment(instalment, payment_method=method, now=now, attempt=attempt), False


# --- collection by mandate ----------------------------------------------------------------------


def collectable(now: datetime):
    """Due or overdue instalments of running loans whose owner gave a mandate, not yet tried today."""
    today = now.date()
    return (Instalment.status.in_([InstalmentStatus.DUE, InstalmentStatus.OVERDUE])
            & (Instalment.due_at <= now)
            & or_(Instalment.collection_attempted_on.is_(None), Instalment.collection_attempted_on < today)
            & Instalment.loan_id.in_(
                select(Loan.id).join(Campaign, Campaign.id == Loan.campaign_id)
                .where(Loan.status.in_([LoanStatus.ACTIVE, LoanStatus.OVERDUE]),
                       Campaign.repayment_mandate.is_not(None))))


def _claim_day(instalment: Instalment, today: date) -> bool:
    """Note today's collection attempt; False if another scheduler noted it first."""
    return db.session.execute(
        update(Instalment)
        .where(Instalment.id == instalment.id,
               or_(Instalment.collection_attempted_on.is_(None), Instalment.collection_attempted_on < today))
        .values(collection_attempted_on=today).execution_options(synchronize_session=False)).rowcount == 1


def collect(instalment: Instalment, now: datetime) -> None:
    """Collect one instalment from its campaign's mandate: paid (and the owner told), or
    declined (left due for tomorrow's attempt, and the owner told). Commits."""
    loan = instalment.loan
    campaign = db.session.get(Campaign, loan.campaign_id)
    today = now.date()
    if not _claim_day(instalment, today):
        db.session.rollback()
        return
    db.session.commit()
    owner = db.session.get(User, campaign.owner_id)
    amount = format_money(instalment.total, loan.currency)
    try:
        services.pay_instalment(instalment, payment_method=campaign.repayment_mandate, now=now,
                                attempt=f"{MANDATE_ATTEMPT}{today.isoformat()}")
    except PaymentDeclined as exc:
        db.session.rollback()
        enqueue(owner, kind="instalment_declined", now=now, dedupe_key=f"instalment-{instalment.id}-declined-{today}",
                subject=_l("Instalment %(number)s could not be collected", number=instalment.number),
                body=_l("We tried to collect instalment %(number)s of %(title)s (%(amount)s) from your saved payment "
                        "method and it was declined (%(reason)s). We will try again tomorrow; you can also pay it now "
                        "on the campaign page.", number=instalment.number, title=campaign.title, amount=amount,
                        reason=exc.detail))
        audit("loan.collection_declined", subject_type="instalments", subject_id=instalment.id, at=now,
              details={"reason": exc.detail})
        db.session.commit()
        return
    except StateConflict:  # the owner is paying it by hand at this moment, or it was just paid
        db.session.rollback()
        return
    enqueue(owner, kind="instalment_collected", now=now, dedupe_key=f"instalment-{instalment.id}-collected",
            subject=_l("Instalment %(number)s collected", number=instalment.number),
            body=_l("We collected instalment %(number)s of %(title)s (%(amount)s) from your saved payment method "
                    "and paid it out to the investors.", number=instalment.number, title=campaign.title,
                    amount=amount))
    db.session.commit()
