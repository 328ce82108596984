"""Bank-transfer pledges: the payment instructions, and the statement line that pays them.

A bank-transfer pledge is reserved like any other and waits in ``pending_payment`` with an
ISO 11649 reference (``RF…``, made from its id, so a typo fails the checksum and never
names another pledge) until ``pay_by``; an imported statement line with that reference
and the pledge's exact amount and currency pays it (``settle_transfer``), and the
reflection period starts then. Unpaid at ``pay_by`` it expires and frees its room.
"""

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.accounts.models import User
from app.banking import epc_qr, references
from app.campaigns.models import Campaign
from app.core.audit import audit, audit_deferred_many
from app.core.i18n import _
from app.core.money import format_money
from app.extensions import db
from app.notifications.services import enqueue, enqueue_many
from app.payments import methods
from app.payments.models import Pledge, PledgeStatus
from app.payments.store import store


def reference_for(pledge_id: int) -> str:
    return references.make_reference("P", pledge_id)


def instruct(pledge: Pledge, investor: Any, *, now: datetime) -> None:
    """Give a new bank-transfer pledge its reference and pay-by time, and e-mail the instructions
    (in the investor's language). Flushes."""
    pay_by = now + timedelta(days=current_app.config["BANK_TRANSFER_DAYS"])
    store().await_transfer(pledge, reference=reference_for(pledge.id), pay_by=pay_by)
    details = instructions(pledge)
    locale = getattr(investor, "locale", None) or "en"
    if "iban" in details:
        account = _l("IBAN: %(iban)s, BIC: %(bic)s", iban=details["iban"], bic=details["bic"])
    else:
        account = _l("Account: %(account)s, BIK: %(bik)s, correspondent account: %(correspondent)s, INN: %(inn)s",
                     account=details["account"], bik=details["bik"],
                     correspondent=details["correspondent_account"], inn=details["inn"])
    enqueue(investor, kind="payment_instructions", dedupe_key=f"pledge-{pledge.id}-instructions", now=now,
            subject=_l("Payment instructions: pledge %(id)s", id=pledge.id),
            body=_l("Please transfer %(amount)s by %(deadline)s UTC, quoting the reference exactly, or the pledge "
                    "expires.\n\nBeneficiary: %(beneficiary)s\n%(account)s\nReference: %(reference)s",
                    amount=format_money(pledge.amount, pledge.currency, locale),
                    deadline=pay_by.strftime("%Y-%m-%d %H:%M"), beneficiary=details["beneficiary"],
                    account=account, reference=details["reference"]))


def instructions(pledge: Pledge) -> dict[str, Any] | None:
    """What the investor's bank needs (API.md's ``payment_instructions``); None for other pledges."""
    if pledge.payment_method != methods.BANK_TRANSFER or pledge.payment_reference is None:
        return None
    config = current_app.config
    found: dict[str, Any] = {"beneficiary": config["PLATFORM_BANK_NAME"], "reference": pledge.payment_reference,
                             "amount": pledge.amount, "currency": pledge.currency, "pay_by": pledge.pay_by,
                             "amount_text": format_money(pledge.amount, pledge.currency)}
    if config["PLATFORM_JURISDICTION"] == "RU":
        found |= {"account": config["PLATFORM_RU_ACCOUNT"], "bik": config["PLATFORM_RU_BIK"],
                  "correspondent_account": config["PLATFORM_RU_CORRESPONDENT_ACCOUNT"],
                  "inn": config["PLATFORM_RU_INN"]}
    else:
        found |= {"iban": config["PLATFORM_IBAN"], "bic": config["PLATFORM_BIC"]}
    return found


def qr_svg(pledge: Pledge) -> str | None:
    """The EPC QR code ("GiroCode") a banking app scans, for a euro bank-transfer pledge."""
    details = instructions(pledge)
    if details is None or pledge.currency != "EUR" or "iban" not in details:
        return None
    return epc_qr.epc_svg(epc_qr.epc_payload(beneficiary=details["beneficiary"], iban=details["iban"],
                                             bic=details["bic"], amount=pledge.amount, currency="EUR",
                                             reference=details["reference"]))


def pledge_for_reference(reference: str) -> Pledge | None:
    """The bank-transfer pledge a (valid, normalised) RF reference names, whatever its status."""
    return db.session.scalar(select(Pledge).where(Pledge.payment_reference == reference))


def settle_transfer(pledge: Pledge, *, amount: int, currency: str, now: datetime, actor: Any = None) -> bool:
    """A statement line pays a pending bank-transfer pledge: True if it did. Flushes.

    Only the exact amount in the pledge's currency, and only while it is pending and before
    its ``pay_by``: an expired (even if the sweep has not marked it yet), failed or already
    paid pledge is never paid (again); the line stays unmatched.
    """
    if (pledge.payment_method != methods.BANK_TRANSFER or pledge.status != PledgeStatus.PENDING_PAYMENT
            or amount != pledge.amount or currency != pledge.currency or (pledge.pay_by and pledge.pay_by <= now)):
        return False
    reflection = (pledge.reflection_ends_at - pledge.created_at) if pledge.reflection_ends_at else None
    if not store().pay(pledge, None, now=now):
        return False
    if reflection is not None:
        store().restart_reflection(pledge, ends_at=now + reflection)
    audit("pledge.paid_by_transfer", actor=actor, subject=pledge, at=now,
          details={"reference": pledge.payment_reference, "amount": amount})
    _tell_paid(pledge, db.session.get(Campaign, pledge.campaign_id), now)
    return True


def settle_transfers(matches: list[tuple[Pledge, int, str]], *, now: datetime) -> set[int]:
    """``settle_transfer`` for a batch of statement credits ``(pledge, amount, currency)``: the
    ids of the pledges paid. The same rules, decided in set-based statements (one per step,
    not per pledge): a statement of 100,000 transfers imports in seconds. Flushes."""
    payable = [p for p, amount, currency in matches
               if p.payment_method == methods.BANK_TRANSFER and p.status == PledgeStatus.PENDING_PAYMENT
               and amount == p.amount and currency == p.currency]
    moved = store().settle_many(payable, now=now)
    if not moved:
        return set()
    audit_deferred_many("pledge.paid_by_transfer", (
        ("pledge", p.id, {"reference": p.payment_reference, "amount": p.amount}) for p in moved), at=now)
    investors = {u.id: u for u in db.session.execute(
        select(User.id, User.email, User.locale).where(User.id.in_({p.investor_id for p in moved})))}
    titles = dict(db.session.execute(select(Campaign.id, Campaign.title)
                                     .where(Campaign.id.in_({p.campaign_id for p in moved}))).all())
    messages = []
    for pledge in moved:
        investor = investors.get(pledge.investor_id)
        if investor is None:
            continue
        locale = investor.locale or "en"
        subject, body = _paid_message(pledge, titles[pledge.campaign_id], locale)
        with force_locale(locale):
            messages.append({"user_id": investor.id, "to_address": investor.email, "kind": "pledge_paid_by_transfer",
                             "dedupe_key": f"pledge-{pledge.id}-paid-by-transfer", "subject": str(subject)[:200],
                             "body": str(body)})
    enqueue_many(messages, now=now)
    return {p.id for p in moved}


def _paid_message(pledge: Pledge, title: str, locale: str) -> tuple[Any, Any]:
    amount = format_money(pledge.amount, pledge.currency, locale)
    if pledge.reflection_ends_at:
        body = _l("Your transfer of %(amount)s paid your pledge to %(title)s. You may revoke it until "
                  "%(deadline)s UTC.", amount=amount, title=title,
                  deadline=pledge.reflection_ends_at.strftime("%Y-%m-%d %H:%M"))
    else:
        body = _l("Your transfer of %(amount)s paid your pledge to %(title)s.", amount=amount, title=title)
    return _l("Transfer received: %(title)s", title=title), body


def _tell_paid(pledge: Pledge, campaign: Campaign, now: datetime) -> None:
    investor = db.session.get(User, pledge.investor_id)
    subject, body = _paid_message(pledge, campaign.title, getattr(investor, "locale", None) or "en")
    enqueue(investor, kind="pledge_paid_by_transfer", dedupe_key=f"pledge-{pledge.id}-paid-by-transfer", now=now,
            subject=subject, body=body)


def refused_reason(pledge: Pledge | None) -> str:
    """Why a statement line could not pay this pledge (for the operator's unmatched list)."""
    if pledge is None:
        return _("No pledge has this reference.")
    if pledge.status != PledgeStatus.PENDING_PAYMENT:
        return _("The pledge is %(status)s.", status=pledge.status.replace("_", " "))
    return _("The amount or currency differs from the pledge's.")
