"""The wallet: balances and movements read from the ledger, the bank account, withdrawals.

Services flush and never commit: the API route, the form view or the statement import
commits. A withdrawal takes its money from ``available`` in the transaction that creates
it, under a row lock on the owner's ``investor_funds`` ledger account (the same lock a
wallet pledge takes), so two spenders of one wallet take turns and never spend the same
money twice.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.banking import iban as ibans
from app.banking import pain001
from app.core.audit import audit
from app.core.boundaries import MAX_ID
from app.core.errors import NotAllowed, NotFound, StateConflict, ValidationFailed, load
from app.core.i18n import _
from app.core.money import format_money
from app.core.permissions import Permission, can
from app.extensions import db
from app.investors import services as investors
from app.notifications.services import enqueue
from app.payments import ledger
from app.wallets.lifecycle import WITHDRAWAL, WithdrawalEvent
from app.wallets.models import BankAccount, OwnerType, Withdrawal, WithdrawalBatch, WithdrawalStatus
from app.wallets.schemas import BankAccountInputSchema, BatchInputSchema, WithdrawalInputSchema

_BANK_INPUT = BankAccountInputSchema()
_WITHDRAWAL_INPUT = WithdrawalInputSchema()
_BATCH_INPUT = BatchInputSchema()


@dataclass(frozen=True)
class Owner:
    """Whose wallet: the user's own, or for a fund manager the fund's."""

    type: OwnerType
    id: int
    user_id: int
    fund_id: int | None

    def funds(self, currency: str) -> ledger.AccountRef:
        return ledger.investor_funds(currency, user_id=self.user_id, fund_id=self.fund_id)

    def pending(self, currency: str) -> ledger.AccountRef:
        return ledger.withdrawals_pending(currency, user_id=self.user_id, fund_id=self.fund_id)


def owner_of(actor: Any) -> Owner:
    """The wallet owner ``actor`` acts for; NotAllowed for roles without a wallet."""
    if not can(actor, Permission.INVEST):
        raise NotAllowed(_("Only investors and fund managers have a wallet."))
    fund = investors.fund_for(actor) if can(actor, Permission.MANAGE_FUND) else None
    if fund is not None:
        return Owner(OwnerType.FUND, fund.id, actor.id, fund.id)
    return Owner(OwnerType.USER, actor.id, actor.id, None)


# --- balances and movements ------------------------------------------------------------------


def _owner_accounts(owner: Owner, kind: ledger.AccountKind) -> list[ledger.LedgerAccount]:
    account = ledger.LedgerAccount
    return list(db.session.scalars(select(account).where(
        account.kind == kind.value, account.owner_type == owner.type.value, account.owner_id == owner.id)
        .order_by(account.currency)))


def balances(actor: Any) -> list[dict]:
    """``[{currency, available, reserved}]`` for every currency the owner has a wallet account in."""
    owner = owner_of(actor)
    out: dict[str, dict] = {}
    for kind, field in ((ledger.AccountKind.INVESTOR_FUNDS, "available"),
                        (ledger.AccountKind.WITHDRAWALS_PENDING, "reserved")):
        for acct in _owner_accounts(owner, kind):
            out.setdefault(acct.currency, {"currency": acct.currency, "available": 0, "reserved": 0})
            out[acct.currency][field] = ledger.balance(acct)
    return [out[c] for c in sorted(out)]


def movement_kind(idempotency_key: str, amount: int) -> str:
    """What a ledger transaction on the wallet was, from its key (``instalment-7-received`` …)."""
    if idempotency_key.startswith("instalment-"):
        return "repayment"
    if idempotency_key.startswith("withdrawal-"):
        return "withdrawal_returned" if idempotency_key.endswith("-returned") else "withdrawal"
    if idempotency_key.startswith("pledge-") and idempotency_key.endswith("-paid"):
        return "pledge"
    if idempotency_key.startswith("pledge-"):
        return "refund"
    return "repayment" if amount > 0 else "pledge"


def movements(actor: Any, page: int, per_page: int) -> dict:
    """The wallet's movements, newest first, in the list envelope: one per ledger transaction
    that changed the available balance (card pledges pass through the wallet and net to zero)."""
    owner = owner_of(actor)
    ids = [acct.id for acct in _owner_accounts(owner, ledger.AccountKind.INVESTOR_FUNDS)]
    entry, tx, account = ledger.LedgerEntry, ledger.LedgerTransaction, ledger.LedgerAccount
    net = func.sum(entry.amount)
    grouped = (select(tx.id, tx.idempotency_key, tx.created_at, tx.campaign_id, account.currency,
                      net.label("net"))
               .join(entry, entry.transaction_id == tx.id).join(account, entry.account_id == account.id)
               .where(entry.account_id.in_(ids or [-1]))
               .group_by(tx.id, tx.idempotency_key, tx.created_at, tx.campaign_id, account.currency)
               .having(net != 0))
    total = db.session.scalar(select(func.count()).select_from(grouped.subquery()))
    rows = db.session.execute(grouped.order_by(tx.created_at.desc(), tx.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    items = []
    for row in rows:
        amount = -int(row.net)  # investor_funds is credit-normal: a credit is money in
        items.append({"id": row.id, "kind": movement_kind(row.idempotency_key, amount), "amount": amount,
                      "currency": row.currency, "created_at": row.created_at, "campaign_id": row.campaign_id})
    return {"items": items, "page": page, "per_page": per_page, "total": total}


# --- bank account ----------------------------------------------------------------------------


def bank_account(actor: Any) -> BankAccount | None:
    owner = owner_of(actor)
    return db.session.scalar(select(BankAccount).where(
        BankAccount.owner_type == owner.type.value, BankAccount.owner_id == owner.id))


def set_bank_account(actor: Any, data: Any, *, now: datetime, ip_address: str | None = None) -> BankAccount:
    """Replace the owner's bank account; 422 naming ``iban`` or ``bic`` when they are not valid."""
    owner = owner_of(actor)
    clean = load(_BANK_INPUT, data, lambda: _("The bank account is invalid."))
    checked = ibans.validate_account(clean["iban"], clean.get("bic") or None)
    account = bank_account(actor)
    if account is None:
        account = BankAccount(owner_type=owner.type.value, owner_id=owner.id)
        db.session.add(account)
    account.holder_name = clean["holder_name"].strip()
    account.iban, account.bic, account.updated_at = checked.iban, checked.bic, now
    db.session.flush()
    audit("wallet.bank_account_set", actor=actor, subject=account, ip_address=ip_address, at=now,
          details={"owner_type": owner.type.value, "owner_id": owner.id, "iban": checked.iban_masked})
    return account


def masked(account: BankAccount) -> dict:
    return {"holder_name": account.holder_name, "iban_masked": ibans.mask_iban(account.iban), "bic": account.bic}


# --- withdrawals -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WithdrawalOutcome:
    withdrawal: Withdrawal
    #: True when an Idempotency-Key matched an earlier request and nothing new happened.
    replayed: bool = False


def clean_key(idempotency_key: str | None) -> str | None:
    """The client's Idempotency-Key, trimmed, or 422 if it is empty or too long."""
    if idempotency_key is None:
        return None
    key = idempotency_key.strip()
    if not 1 <= len(key) <= 255 or "\x00" in key:
        raise ValidationFailed(_("The Idempotency-Key is invalid."),
                               {"Idempotency-Key": [_("Use 1 to 255 characters.")]})
    return key


def request_hash(data: Any) -> str:
    canonical = json.dumps({"withdrawal": data}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _by_key(actor: Any, key: str) -> Withdrawal | None:
    return db.session.scalar(select(Withdrawal).where(Withdrawal.investor_id == actor.id,
                                                      Withdrawal.idempotency_key == key))


def _replay(existing: Withdrawal, digest: str) -> WithdrawalOutcome:
    if existing.request_hash != digest:
        raise ValidationFailed(_("This Idempotency-Key was used for a different request."),
                               {"Idempotency-Key": [_("Already used with another body; use a new key.")]})
    return WithdrawalOutcome(existing, replayed=True)


def request_withdrawal(actor: Any, data: Any, *, now: datetime, idempotency_key: str | None = None,
                       ip_address: str | None = None) -> WithdrawalOutcome:
    """Reserve ``amount`` of the wallet for a transfer to the owner's bank account. Flushes.

    Refusals write nothing: 422 for a bad amount, a currency without a wallet or an amount
    above the available balance; 409 without a bank account. The same key with the same
    body returns the first withdrawal; with another body it is a 422.
    """
    owner = owner_of(actor)
    key = clean_key(idempotency_key)
    digest = request_hash(data)
    if key is not None and (existing := _by_key(actor, key)) is not None:
        return _replay(existing, digest)
    clean = load(_WITHDRAWAL_INPUT, data, lambda: _("The withdrawal is invalid."))
    amount, currency = clean["amount"], clean["currency"]
    if not any(a.currency == currency for a in _owner_accounts(owner, ledger.AccountKind.INVESTOR_FUNDS)):
        raise ValidationFailed(_("You have no wallet in %(currency)s.", currency=currency),
                               {"currency": [_("No wallet in %(currency)s.", currency=currency)]})
    account = bank_account(actor)
    if account is None:
        raise StateConflict(_("Add the bank account to pay withdrawals into first."),
                            {"bank_account": [_("No bank account yet.")]})
    available = ledger.locked_balance(owner.funds(currency))
    if amount > available:
        text = _("The amount is more than your available balance (%(available)s).",
                 available=format_money(available, currency))
        raise ValidationFailed(text, {"amount": [text]})
    withdrawal = Withdrawal(
        investor_id=actor.id, fund_id=owner.fund_id, owner_type=owner.type.value, owner_id=owner.id,
        amount=amount, currency=currency, status=WithdrawalStatus.REQUESTED.value, holder_name=account.holder_name,
        iban=account.iban, bic=account.bic, idempotency_key=key, request_hash=digest, created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(withdrawal)
    except IntegrityError:
        # A twin request under the same key committed a moment ago.
        existing = _by_key(actor, key) if key is not None else None
        if existing is None:
            raise
        return _replay(existing, digest)
    ledger.post_flow(ledger.withdrawal_requested(withdrawal.id, amount, currency, user_id=owner.user_id,
                                                 fund_id=owner.fund_id), now=now)
    audit("wallet.withdrawal_requested", actor=actor, subject=withdrawal, ip_address=ip_address, at=now,
          details={"amount": amount, "currency": currency})
    return WithdrawalOutcome(withdrawal)


def withdrawals_query(actor: Any):
    """The owner's withdrawals, newest first (a fund's are every manager's)."""
    owner = owner_of(actor)
    return (select(Withdrawal).where(Withdrawal.owner_type == owner.type.value, Withdrawal.owner_id == owner.id)
            .order_by(Withdrawal.created_at.desc(), Withdrawal.id.desc()))


# --- payment files ---------------------------------------------------------------------------


def _flow_args(w: Withdrawal) -> dict:
    return {"user_id": w.investor_id, "fund_id": w.fund_id}


def _tell(w: Withdrawal, kind: str, subject: Any, body: Any, *, now: datetime) -> None:
    enqueue(db.session.get(User, w.investor_id), kind=kind, subject=subject, body=body,
            dedupe_key=f"withdrawal-{w.id}-{kind}", now=now)


def create_batch(actor: Any, data: Any, *, now: datetime, ip_address: str | None = None) -> WithdrawalBatch:
    """Put every requested withdrawal of one currency into one pain.001 file; they become ``sent``.

    409 when none is waiting. Flushes.
    """
    if not can(actor, Permission.PAY_WITHDRAWALS):
        raise NotAllowed(_("Only the operator creates payment files."))
    currency = load(_BATCH_INPUT, data or {}, lambda: _("The payment file request is invalid."))["currency"] \
        or investors.current_jurisdiction().currency
    waiting = list(db.session.scalars(
        select(Withdrawal).where(Withdrawal.status == WithdrawalStatus.REQUESTED.value,
                                 Withdrawal.currency == currency).order_by(Withdrawal.id).with_for_update()))
    if not waiting:
        raise StateConflict(_("No withdrawal in %(currency)s is waiting for a payment file.", currency=currency),
                            {"currency": [_("Nothing to pay.")]})
    batch = WithdrawalBatch(currency=currency, count=len(waiting), total=sum(w.amount for w in waiting),
                            message_id="pending", xml=b"", created_by_id=actor.id, created_at=now)
    db.session.add(batch)
    db.session.flush()
    batch.message_id = f"GRB-{batch.id}"
    for w in waiting:
        WITHDRAWAL.move(w, WithdrawalEvent.SEND)
        w.end_to_end_id, w.batch_id, w.sent_at = f"GRW-{w.id}", batch.id, now
    config = current_app.config
    debtor = pain001.DebtorAccount(config["PLATFORM_BANK_NAME"], config["PLATFORM_IBAN"], config["PLATFORM_BIC"])
    batch.xml = pain001.build_credit_transfer(
        debtor,
        [pain001.CreditTransfer(w.end_to_end_id, w.holder_name, w.iban, w.bic, w.amount, w.currency,
                                f"GreenRound withdrawal {w.id}") for w in waiting],
        message_id=batch.message_id, execution_date=now.date(), currency=currency)
    db.session.flush()
    for w in waiting:
        _tell(w, "withdrawal_sent", _l("Your withdrawal is on its way"),
              _l("Your withdrawal of %(amount)s has been sent to your bank account %(iban)s. It usually arrives "
                 "within one to two business days.", amount=format_money(w.amount, w.currency),
                 iban=ibans.mask_iban(w.iban)), now=now)
    audit("wallet.withdrawal_batch_created", actor=actor, subject=batch, ip_address=ip_address, at=now,
          details={"currency": currency, "count": batch.count, "total": batch.total})
    return batch


def batches_query():
    return select(WithdrawalBatch).order_by(WithdrawalBatch.created_at.desc(), WithdrawalBatch.id.desc())


def get_batch(batch_id: int, actor: Any) -> WithdrawalBatch:
    if not can(actor, Permission.PAY_WITHDRAWALS):
        raise NotAllowed(_("Only the operator reads payment files."))
    batch = db.session.get(WithdrawalBatch, batch_id) if 0 < batch_id <= MAX_ID else None
    if batch is None:
        raise NotFound(_("No such payment file."))
    return batch


# --- what the bank statement says (the statement import calls these) -------------------------


def _by_end_to_end_id(end_to_end_id: str) -> Withdrawal | None:
    return db.session.scalar(select(Withdrawal).where(Withdrawal.end_to_end_id == end_to_end_id)
                             .with_for_update())


def record_withdrawal_paid(end_to_end_id: str, *, amount: int, currency: str, now: datetime) -> Withdrawal | None:
    """A statement debit names a sent withdrawal: it is ``paid`` and leaves the platform's bank
    account. Anything that does not match (unknown id, other amount or currency, not sent)
    returns None and changes nothing; a withdrawal already paid is returned as it is. Flushes."""
    w = _by_end_to_end_id(end_to_end_id)
    if w is None or w.amount != amount or w.currency != currency:
        return None
    if w.status == WithdrawalStatus.PAID:
        return w
    if w.status != WithdrawalStatus.SENT:
        return None
    WITHDRAWAL.move(w, WithdrawalEvent.PAY)
    w.paid_at = now
    ledger.post_flow(ledger.withdrawal_paid(w.id, w.amount, w.currency, **_flow_args(w)), now=now)
    db.session.flush()
    audit("wallet.withdrawal_paid", subject=w, at=now, details={"end_to_end_id": end_to_end_id})
    _tell(w, "withdrawal_paid", _l("Your withdrawal has arrived"),
          _l("Your withdrawal of %(amount)s has been paid into your bank account %(iban)s.",
             amount=format_money(w.amount, w.currency), iban=ibans.mask_iban(w.iban)), now=now)
    return w


def record_withdrawal_returned(end_to_end_id: str, *, amount: int, currency: str, reason: str | None,
                               now: datetime) -> Withdrawal | None:
    """The receiving bank sent a withdrawal back: ``returned``, and the money is available in the
    wallet again. Unknown, not yet sent, or a return of another amount or currency (a partial
    return is for the operator to look at) → None, nothing changed; already returned → it. Flushes."""
    w = _by_end_to_end_id(end_to_end_id)
    if w is None or w.amount != amount or w.currency != currency:
        return None
    if w.status == WithdrawalStatus.RETURNED:
        return w
    if w.status not in (WithdrawalStatus.SENT, WithdrawalStatus.PAID):
        return None
    was_paid = w.status == WithdrawalStatus.PAID
    WITHDRAWAL.move(w, WithdrawalEvent.RETURN)
    w.returned_at, w.return_reason = now, (reason or None) and reason[:200]
    if was_paid:
        # The money left the bank account and came back: into the bank account, then reserved again.
        ledger.post(f"Withdrawal {w.id} came back to the bank account",
                    [(ledger.bank_clearing(w.currency), w.amount),
                     (ledger.withdrawals_pending(w.currency, **_flow_args(w)), -w.amount)],
                    now=now, idempotency_key=f"withdrawal-{w.id}-bounced")
    ledger.post_flow(ledger.withdrawal_returned(w.id, w.amount, w.currency, **_flow_args(w)), now=now)
    db.session.flush()
    audit("wallet.withdrawal_returned", subject=w, at=now, details={"end_to_end_id": end_to_end_id,
                                                                    "reason": w.return_reason})
    _tell(w, "withdrawal_returned", _l("Your withdrawal was returned"),
          _l("Your bank returned the withdrawal of %(amount)s. The money is available in your wallet again; "
             "check your bank account details before you withdraw again.",
             amount=format_money(w.amount, w.currency)), now=now)
    return w


def waiting_totals() -> list[dict]:
    """``[{currency, count, total}]`` of the requested withdrawals not yet in a payment file."""
    rows = db.session.execute(
        select(Withdrawal.currency, func.count(), func.sum(Withdrawal.amount))
        .where(Withdrawal.status == WithdrawalStatus.REQUESTED.value)
        .group_by(Withdrawal.currency).order_by(Withdrawal.currency))
    return [{"currency": currency, "count": count, "total": int(total)} for currency, count, total in rows]


def batch_withdrawals(batch: WithdrawalBatch) -> list[Withdrawal]:
    """What one payment file paid, and where each transfer stands now."""
    return list(db.session.scalars(select(Withdrawal).where(Withdrawal.batch_id == batch.id).order_by(Withdrawal.id)))
