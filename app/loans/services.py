"""Repayment rules: the schedule, asking the owner, collecting, distributing, arrears.

Services flush; the sweeps and views commit, except ``pay_instalment``, a boundary that
commits around its gateway call (claim, charge, record). Money moves through the ledger:
an instalment received is Dr gateway_clearing, Cr investor_funds for each holder's
share, split by largest remainder so the shares always add up to the instalment.
Each share also adds to the running totals (``PledgeRepayment``, ``RepaymentDay``) in the
same transaction, with atomic ``INSERT … ON CONFLICT DO UPDATE`` increments, so two
receipts at once never lose one another's addition.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, insert, literal, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from app.accounts.models import User
from app.campaigns import services as campaigns
from app.campaigns.models import Campaign
from app.campaigns.schedule import instalments as plan_instalments
from app.core.audit import audit
from app.core.clock import as_utc
from app.core.errors import NotFound, StateConflict
from app.core.money import allocate, format_money
from app.extensions import db
from app.loans.lifecycle import INSTALMENT, LOAN, InstalmentEvent, LoanEvent
from app.loans.models import (
    Instalment,
    InstalmentShare,
    InstalmentStatus,
    Loan,
    LoanStatus,
    PledgeRepayment,
    RepaymentDay,
)
from app.notifications.services import enqueue
from app.payments import ledger
from app.payments.errors import PaymentDeclined
from app.payments.gateways import gateway
from app.payments.models import Pledge, PledgeStatus

log = logging.getLogger(__name__)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    next_month = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=moment.tzinfo)
    last_day = (next_month - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def create_loan(campaign: Campaign, principal: int, *, now: datetime) -> Loan:
    """The loan and its monthly schedule, created when the round is paid out (once)."""
    existing = db.session.scalar(select(Loan).where(Loan.campaign_id == campaign.id))
    if existing is not None:
        return existing
    loan = Loan(campaign_id=campaign.id, principal=principal, currency=campaign.currency,
                interest_rate_bps=campaign.interest_rate_bps or 0, term_months=campaign.term_months,
                repayment=campaign.repayment, status=LoanStatus.ACTIVE.value, starts_at=now)
    loan.instalments = [
        Instalment(number=i.number, due_at=add_months(now, i.number), principal=i.principal, interest=i.interest,
                   status=InstalmentStatus.SCHEDULED.value)
        for i in plan_instalments(principal, loan.interest_rate_bps, loan.term_months, loan.repayment)
    ]
    db.session.add(loan)
    db.session.flush()
    audit("loan.created", subject=campaign, details={"loan_id": loan.id, "principal": principal,
                                                     "instalments": len(loan.instalments)}, at=now)
    return loan


def mark_due(instalment: Instalment, *, now: datetime) -> None:
    """The instalment's date has come: the owner is asked to pay."""
    INSTALMENT.move(instalment, InstalmentEvent.FALL_DUE)
    campaign = db.session.get(Campaign, instalment.loan.campaign_id)
    enqueue(db.session.get(User, campaign.owner_id), kind="instalment_due", now=now,
            dedupe_key=f"instalment-{instalment.id}-due",
            subject=f"Instalment {instalment.number} due: {campaign.title}",
            body=f"Instalment {instalment.number} of {format_money(instalment.total, instalment.loan.currency)} "
                 f"was due on {instalment.due_at:%Y-%m-%d}. Pay it from the campaign page.")
    audit("loan.instalment_due", subject_type="instalments", subject_id=instalment.id,
          details={"loan_id": instalment.loan_id, "amount": instalment.total}, at=now)


def mark_overdue(instalment: Instalment, *, now: datetime) -> None:
    INSTALMENT.move(instalment, InstalmentEvent.FALL_OVERDUE)
    LOAN.move(instalment.loan, LoanEvent.FALL_BEHIND)
    audit("loan.instalment_overdue", subject_type="instalments", subject_id=instalment.id,
          details={"loan_id": instalment.loan_id}, at=now)


def mark_defaulted(loan: Loan, *, now: datetime) -> None:
    """Unpaid for the default period: the loan and its campaign are defaulted."""
    LOAN.move(loan, LoanEvent.DEFAULT)
    loan.defaulted_at = now
    campaigns.mark_defaulted(db.session.get(Campaign, loan.campaign_id), now=now)
    audit("loan.defaulted", subject_type="loans", subject_id=loan.id, at=now)


def holders(campaign_id: int) -> list[Pledge]:
    """The settled pledges that share the repayments, in a fixed order (ties are stable)."""
    return list(db.session.scalars(select(Pledge).where(
        Pledge.campaign_id == campaign_id, Pledge.status == PledgeStatus.SETTLED.value).order_by(Pledge.id)))


def owner_instalment(instalment_id: int, actor: Any) -> Instalment:
    instalment = db.session.get(Instalment, instalment_id)
    if instalment is None:
        raise NotFound("No such instalment.")
    campaign = db.session.get(Campaign, instalment.loan.campaign_id)
    if actor is None or campaign.owner_id != actor.id:
        raise NotFound("No such instalment.")
    return instalment


#: A claimed charge whose attempt has not recorded its outcome by then is taken to have died.
CHARGE_CLAIM_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class _Claim:
    """The call a claimed attempt makes: its own, or the stale one it must repeat first.
    Plain values: nothing is loaded from the database between the claim and the record."""

    instalment_id: int
    key: str
    payment_method: str
    amount: int
    currency: str


def pay_instalment(instalment: Instalment, *, payment_method: str, now: datetime,
                   attempt: str = "1") -> Instalment:
    """Collect a due instalment from the owner through the gateway and distribute it.

    A boundary, like ``create_pledge``: it commits, because the gateway call sits between
    two transactions and no row lock is held across it. (1) Claim: a conditional UPDATE
    notes this attempt's key on the instalment if it is due or overdue and no other attempt
    is in flight — a second attempt at once gets a 409 — and commits. (2) Charge with key
    ``instalment-<id>-charge-<attempt>``. (3) Record, under a fresh lock: paid and
    distributed, or declined (PaymentDeclined); either way the claim is cleared.

    ``attempt`` names this payment attempt (the form's per-render token): a retried request
    reuses its key and charges once, while a new attempt after a declined card gets a new
    key. A claim whose attempt died (stale after ``CHARGE_CLAIM_TIMEOUT``, or released by a
    failure after its charge) is first repeated with its own key and payment method — the
    gateway answers with the first outcome, so a crash after the charge never charges
    twice — and only if that was declined does this attempt charge in its own name.
    """
    instalment_id = instalment.id
    key = charge_key(instalment_id, attempt)
    while True:
        claim = _claim(instalment, key, payment_method, now=now)
        try:
            result = gateway().charge(amount=claim.amount, currency=claim.currency,
                                      payment_method=claim.payment_method, idempotency_key=claim.key,
                                      metadata={"instalment_id": str(instalment_id)}, return_url="",
                                      off_session=_OFF_SESSION in claim.key)
            paid = _record_charge(instalment, claim, result, now=now)
        except Exception:
            _release(claim)
            raise
        if paid:
            return instalment
        if claim.key == key:
            raise PaymentDeclined(result.failure_message or "The payment did not go through.")
        # the stale attempt was declined: its claim is cleared, now charge in this attempt's name


#: Collections by mandate name their attempts ``mandate-<day>``: charged off-session, the
#: owner is not there to pass 3-D Secure.
_OFF_SESSION = "-charge-mandate-"


def charge_key(instalment_id: int, attempt: str) -> str:
    """The gateway idempotency key of one attempt to pay an instalment."""
    return f"instalment-{instalment_id}-charge-{attempt}"


def _claim(instalment: Instalment, key: str, payment_method: str, *, now: datetime) -> _Claim:
    """Note this attempt on the instalment (or take over a stale one) and commit; 409 if it cannot pay now."""
    db.session.refresh(instalment)
    if instalment.status == InstalmentStatus.PAID:
        raise StateConflict("This instalment is already paid.")
    if instalment.status == InstalmentStatus.SCHEDULED:
        raise StateConflict("This instalment is not due yet.")
    if instalment.loan.status == LoanStatus.DEFAULTED:
        raise StateConflict("The loan is in default; repayments are handled by the operator.")
    unclaimed = Instalment.charge_key.is_(None)
    free = (unclaimed | Instalment.charge_started_at.is_(None)
            | (Instalment.charge_started_at < now - CHARGE_CLAIM_TIMEOUT))
    claimed = db.session.execute(
        update(Instalment)
        .where(Instalment.id == instalment.id, free,
               Instalment.status.in_([s.value for s in INSTALMENT.sources(InstalmentEvent.PAY)]))
        .values(charge_key=case((unclaimed, key), else_=Instalment.charge_key),
                charge_payment_method=case((unclaimed, payment_method), else_=Instalment.charge_payment_method),
                charge_started_at=now)
        .returning(Instalment.charge_key, Instalment.charge_payment_method)
        .execution_options(synchronize_session=False)).first()
    if claimed is None:
        db.session.refresh(instalment)
        if instalment.status == InstalmentStatus.PAID:
            raise StateConflict("This instalment is already paid.")
        raise StateConflict("A payment of this instalment is in progress.")
    charge = _Claim(instalment_id=instalment.id, key=claimed.charge_key, payment_method=claimed.charge_payment_method,
                    amount=instalment.total, currency=instalment.loan.currency)
    db.session.commit()
    return charge


def _record_charge(instalment: Instalment, claim: _Claim, result: Any, *, now: datetime) -> bool:
    """Apply the gateway's answer to the claimed charge under a fresh lock (the instalment's,
    then its loan's, the sweeps' order), clear the claim and commit; True if the instalment
    is paid. Idempotent: a receipt is recorded once, whichever attempt records it."""
    db.session.scalars(select(Instalment).where(Instalment.id == claim.instalment_id)
                       .with_for_update(of=Instalment).execution_options(populate_existing=True)).one()
    db.session.scalars(select(Loan).where(Loan.id == instalment.loan_id)
                       .with_for_update(of=Loan).execution_options(populate_existing=True)).one()
    ours = instalment.charge_key == claim.key
    if result.status == "succeeded" and instalment.status != InstalmentStatus.PAID:
        instalment.payment_reference, instalment.paid_key = result.reference, claim.key
        receive(instalment, now=now)
    if ours:
        instalment.charge_key = instalment.charge_payment_method = instalment.charge_started_at = None
    paid = instalment.status == InstalmentStatus.PAID
    db.session.commit()
    return paid


def _release(claim: _Claim) -> None:
    """The attempt failed after its claim with no outcome recorded (the gateway unreachable, a
    failure while recording): leave the key for the next attempt to repeat at once."""
    db.session.rollback()
    try:
        db.session.execute(update(Instalment)
                           .where(Instalment.id == claim.instalment_id, Instalment.charge_key == claim.key)
                           .values(charge_started_at=None).execution_options(synchronize_session=False))
        db.session.commit()
    except Exception:  # the database is gone too: the claim goes stale and is re-driven then
        db.session.rollback()
        log.exception("instalment %s: could not release the claim %s", claim.instalment_id, claim.key)


def receive(instalment: Instalment, *, now: datetime) -> list[InstalmentShare]:
    """Record a received instalment and split it across the holders by largest remainder."""
    if instalment.status == InstalmentStatus.PAID:
        return []
    INSTALMENT.move(instalment, InstalmentEvent.PAY)
    loan = instalment.loan
    pledges = holders(loan.campaign_id)
    repaid = dict(db.session.execute(
        select(PledgeRepayment.pledge_id, PledgeRepayment.principal)
        .where(PledgeRepayment.pledge_id.in_([p.id for p in pledges]))).all())
    # Weights are each holding's outstanding principal: interest accrues on it, and the
    # final instalment then returns every holding's remaining principal exactly, so each
    # investor gets back precisely what they lent.
    outstanding = [p.amount - int(repaid.get(p.id, 0)) for p in pledges]
    principal_parts = allocate(instalment.principal, outstanding) if instalment.principal else [0] * len(pledges)
    interest_parts = allocate(instalment.interest, outstanding) if instalment.interest else [0] * len(pledges)
    shares = [
        InstalmentShare(instalment_id=instalment.id, pledge_id=p.id, investor_id=p.investor_id, fund_id=p.fund_id,
                        principal=pp, interest=ip, currency=loan.currency, paid_at=now)
        for p, pp, ip in zip(pledges, principal_parts, interest_parts, strict=True)
    ]
    db.session.add_all(shares)
    _add_to_totals(shares, now=now)
    clearing = ledger.gateway_clearing(loan.currency)
    entries = [(clearing, instalment.total)]
    entries += [(ledger.investor_funds(loan.currency, user_id=s.investor_id, fund_id=s.fund_id),
                 -(s.principal + s.interest)) for s in shares if s.principal + s.interest]
    ledger.post(f"Instalment {instalment.number} of loan {loan.id} received", entries, now=now,
                idempotency_key=f"instalment-{instalment.id}-received", campaign_id=loan.campaign_id)
    instalment.paid_at = now
    for share in shares:
        enqueue(db.session.get(User, share.investor_id), kind="instalment_received", now=now,
                dedupe_key=f"share-{instalment.id}-{share.pledge_id}",
                subject=_l("Repayment received: instalment %(number)s", number=instalment.number),
                body=_l("You received %(principal)s principal and %(interest)s interest. It is in your wallet: "
                        "reinvest it or withdraw it to your bank account.",
                        principal=format_money(share.principal, share.currency),
                        interest=format_money(share.interest, share.currency)))
    audit("loan.instalment_paid", subject_type="instalments", subject_id=instalment.id,
          details={"loan_id": loan.id, "amount": instalment.total, "holders": len(shares)}, at=now)
    if all(i.status == InstalmentStatus.PAID for i in loan.instalments):
        LOAN.move(loan, LoanEvent.COMPLETE)
        loan.completed_at = now
        campaigns.complete(db.session.get(Campaign, loan.campaign_id), now=now)
    elif not any(i.status == InstalmentStatus.OVERDUE for i in loan.instalments):
        LOAN.move(loan, LoanEvent.CATCH_UP)
    db.session.flush()
    return shares


def _upsert_adding(model: Any, rows: list[dict], keys: list[str]) -> None:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET principal = principal + excluded.principal, …``."""
    dialect_insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(model)
    table = model.__table__
    db.session.execute(statement.on_conflict_do_update(index_elements=keys, set_={
        "principal": table.c.principal + statement.excluded.principal,
        "interest": table.c.interest + statement.excluded.interest}), rows)


def _add_to_totals(shares: list[InstalmentShare], *, now: datetime) -> None:
    """Add an instalment's shares to each holding's and each portfolio's day's running totals."""
    if not shares:
        return
    _upsert_adding(PledgeRepayment, [{"pledge_id": s.pledge_id, "principal": s.principal, "interest": s.interest}
                                     for s in shares], ["pledge_id"])
    days: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for s in shares:
        owner = ("fund", s.fund_id) if s.fund_id is not None else ("investor", s.investor_id)
        day = days[(*owner, s.currency)]
        day[0] += s.principal
        day[1] += s.interest
    _upsert_adding(RepaymentDay, [
        {"owner_type": kind, "owner_id": owner_id, "day": as_utc(now).date(), "currency": currency,
         "principal": principal, "interest": interest}
        for (kind, owner_id, currency), (principal, interest) in days.items()],
        ["owner_type", "owner_id", "day", "currency"])


def rebuild_repayment_totals() -> None:
    """Recompute every running total from ``instalment_shares``, for code that writes shares
    directly instead of through ``receive`` (bulk loaders: the benchmark, test factories)."""
    shares = InstalmentShare.__table__
    db.session.execute(delete(PledgeRepayment))
    db.session.execute(delete(RepaymentDay))
    db.session.execute(insert(PledgeRepayment).from_select(
        ["pledge_id", "principal", "interest"],
        select(shares.c.pledge_id, func.sum(shares.c.principal), func.sum(shares.c.interest))
        .group_by(shares.c.pledge_id)))
    day = utc_day(shares.c.paid_at)
    by_owner = [
        select(literal("fund").label("owner_type"), shares.c.fund_id.label("owner_id"), day.label("day"),
               shares.c.currency, shares.c.principal, shares.c.interest).where(shares.c.fund_id.is_not(None)),
        select(literal("investor"), shares.c.investor_id, day, shares.c.currency, shares.c.principal,
               shares.c.interest).where(shares.c.fund_id.is_(None)),
    ]
    rows = union_all(*by_owner).subquery()
    db.session.execute(insert(RepaymentDay).from_select(
        ["owner_type", "owner_id", "day", "currency", "principal", "interest"],
        select(rows.c.owner_type, rows.c.owner_id, rows.c.day, rows.c.currency, func.sum(rows.c.principal),
               func.sum(rows.c.interest))
        .group_by(rows.c.owner_type, rows.c.owner_id, rows.c.day, rows.c.currency)))
    db.session.flush()


def utc_day(column: Any) -> Any:
    """The UTC calendar day of a timestamp column, in SQL, on SQLite (stored in UTC) and PostgreSQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def loan_for(campaign_id: int) -> Loan | None:
    return db.session.scalar(select(Loan).where(Loan.campaign_id == campaign_id))


def shares_of(*, investor_id: int | None = None, fund_id: int | None = None) -> list[InstalmentShare]:
    query = select(InstalmentShare).order_by(InstalmentShare.paid_at, InstalmentShare.id)
    if fund_id is not None:
        query = query.where(InstalmentShare.fund_id == fund_id)
    else:
        query = query.where(InstalmentShare.investor_id == investor_id, InstalmentShare.fund_id.is_(None))
    return list(db.session.scalars(query))
