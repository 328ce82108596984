"""Repayment rules: the schedule, asking the owner, collecting, distributing, arrears.

Services flush; the sweeps and views commit. Money moves through the ledger:
an instalment received is Dr gateway_clearing, Cr investor_funds for each holder's
share, split by largest remainder so the shares always add up to the instalment.
Each share also adds to the running totals (``PledgeRepayment``, ``RepaymentDay``) in the
same transaction, with atomic ``INSERT … ON CONFLICT DO UPDATE`` increments, so two
receipts at once never lose one another's addition.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, union_all
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


def pay_instalment(instalment: Instalment, *, payment_method: str, now: datetime,
                   attempt: str = "1") -> Instalment:
    """Collect a due instalment from the owner through the gateway and distribute it.

    ``attempt`` names this payment attempt (the form's per-render token): a retried request
    reuses its key and charges once, while a new attempt after a declined card gets a new
    key. The row lock makes two attempts at once pay once: the second sees it paid.
    """
    db.session.scalars(select(Instalment).where(Instalment.id == instalment.id).with_for_update(of=Instalment)).all()
    db.session.refresh(instalment)
    if instalment.status == InstalmentStatus.PAID:
        raise StateConflict("This instalment is already paid.")
    if instalment.status == InstalmentStatus.SCHEDULED:
        raise StateConflict("This instalment is not due yet.")
    if instalment.loan.status == LoanStatus.DEFAULTED:
        raise StateConflict("The loan is in default; repayments are handled by the operator.")
    result = gateway().charge(amount=instalment.total, currency=instalment.loan.currency,
                              payment_method=payment_method,
                              idempotency_key=f"instalment-{instalment.id}-charge-{attempt}",
                              metadata={"instalment_id": str(instalment.id)}, return_url="")
    if result.status != "succeeded":
        raise PaymentDeclined(result.failure_message or "The payment did not go through.")
    instalment.payment_reference = result.reference
    receive(instalment, now=now)
    return instalment


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
                subject=f"Repayment received: instalment {instalment.number}",
                body=f"You received {format_money(share.principal, share.currency)} principal and "
                     f"{format_money(share.interest, share.currency)} interest.")
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
