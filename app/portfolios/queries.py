"""The portfolio's read model: a fixed handful of queries, whatever the number of holdings.

Portfolios read the tables of the domains below them (pledges, campaigns, loans) and
never write to them. Going through those domains' services one holding at a time would
cost queries per holding; here every figure is summed in SQL or computed over whole
columns with numpy, so a fund with 5,000 holdings runs the same queries as a citizen
with one.

The expected share of an unpaid instalment is computed the way ``loans.services.receive``
will split it when it is paid: by largest remainder (``core.money.allocate``) over the
campaign's settled pledges in pledge-id order, each weighted by its outstanding principal
(pledged minus principal repaid so far, as recorded): ``floor(total × w / W)``, plus one
minor unit for the ``short`` pledges with the largest remainders, ties to the lower
pledge id. The unpaid instalments are taken in order, each one's principal shares
lowering the weights of the next; every loan advances in the same numpy step, in int64
arrays.
Products ``total × w`` stay below 2**63 while the amounts are at most
``SAFE_PRINCIPAL`` (every EUR loan under the ECSP cap is); larger loans (RUB rounds may
reach a billion roubles) are split by ``allocate`` itself, so no amount ever passes
through a float or overflows.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy import ColumnElement, and_, case, func, select, type_coerce
from sqlalchemy.types import NullType

from app.campaigns.models import Campaign, CampaignSdg, InstrumentType
from app.core.clock import as_utc
from app.core.money import allocate
from app.extensions import db
from app.loans.models import (
    Instalment,
    InstalmentShare,
    InstalmentStatus,
    Loan,
    LoanStatus,
    PledgeRepayment,
    RepaymentDay,
)
from app.payments.models import Pledge, PledgeStatus

#: Largest amount (minor units) split in int64: its square stays below 2**63.
SAFE_PRINCIPAL = 3_037_000_499
#: Pledges that are holdings: the money has been taken (paid) or invested (settled).
HOLDING_STATUSES = (PledgeStatus.PAID.value, PledgeStatus.SETTLED.value)


@dataclass(frozen=True, slots=True)
class PortfolioOwner:
    """Whose portfolio: a citizen's own pledges, or a fund's (whichever manager pledged)."""

    kind: Literal["investor", "fund"]
    id: int
    name: str
    #: The investor profile's or the fund's currency, the one shown first.
    currency: str | None


def _pledge_filter(owner: PortfolioOwner) -> ColumnElement[bool]:
    if owner.kind == "fund":
        return Pledge.fund_id == owner.id
    return and_(Pledge.investor_id == owner.id, Pledge.fund_id.is_(None))


def _share_filter(owner: PortfolioOwner) -> ColumnElement[bool]:
    if owner.kind == "fund":
        return InstalmentShare.fund_id == owner.id
    return and_(InstalmentShare.investor_id == owner.id, InstalmentShare.fund_id.is_(None))


def _rows(statement: Any) -> list[Any]:
    """Run a read-only statement on the session's connection (Core: no ORM row machinery)."""
    return db.session.connection().execute(statement).all()


def _day(column: Any) -> Any:
    """The UTC calendar day of a timestamp, on SQLite and PostgreSQL alike."""
    return func.date(column)


def as_date(value: Any) -> date:
    """``date()`` answers a string on SQLite and a date on PostgreSQL."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- holdings --------------------------------------------------------------------------


def holding_rows(owner: PortfolioOwner) -> list[Any]:
    """One row per holding: a paid or settled pledge to a loan campaign."""
    statement = (
        select(
            Pledge.id.label("pledge_id"), Pledge.campaign_id, Pledge.amount, Pledge.currency,
            Pledge.status.label("pledge_status"),
            func.coalesce(Pledge.paid_at, Pledge.settled_at, Pledge.created_at).label("paid_at"),
            Campaign.title, Campaign.category, Campaign.country, Campaign.risk_class,
            Campaign.status.label("campaign_status"), Campaign.raised_amount,
            Campaign.co2_tonnes_per_year, Campaign.energy_mwh_per_year,
            func.coalesce(Loan.interest_rate_bps, Campaign.interest_rate_bps).label("interest_rate_bps"),
            func.coalesce(Loan.term_months, Campaign.term_months).label("term_months"),
            func.coalesce(Loan.repayment, Campaign.repayment).label("repayment"),
            Loan.status.label("loan_status"),
        )
        .join(Campaign, Campaign.id == Pledge.campaign_id)
        .outerjoin(Loan, Loan.campaign_id == Pledge.campaign_id)
        .where(_pledge_filter(owner), Pledge.status.in_(HOLDING_STATUSES),
               Campaign.instrument_type == InstrumentType.LOAN.value)
        .order_by(Pledge.id)
    )
    return _rows(statement)


def sdg_rows(owner: PortfolioOwner) -> list[Any]:
    """(currency, sdg, amount, holdings): each holding counts in full toward each of its goals."""
    statement = (
        select(Pledge.currency, CampaignSdg.sdg, func.sum(Pledge.amount), func.count(Pledge.id))
        .join(Campaign, Campaign.id == Pledge.campaign_id)
        .join(CampaignSdg, CampaignSdg.campaign_id == Pledge.campaign_id)
        .where(_pledge_filter(owner), Pledge.status.in_(HOLDING_STATUSES),
               Campaign.instrument_type == InstrumentType.LOAN.value)
        .group_by(Pledge.currency, CampaignSdg.sdg)
    )
    return _rows(statement)


def received_by_day(owner: PortfolioOwner) -> list[tuple[date, str, int, int]]:
    """(day, currency, principal, interest) actually received: the running totals by day
    (``RepaymentDay``), one row per day whatever the number of holdings."""
    statement = (
        select(RepaymentDay.day, RepaymentDay.currency, RepaymentDay.principal, RepaymentDay.interest)
        .where(RepaymentDay.owner_type == owner.kind, RepaymentDay.owner_id == owner.id)
    )
    return [(as_date(d), c, int(p), int(i)) for d, c, p, i in _rows(statement)]


# --- expected shares of unpaid instalments ---------------------------------------------


@dataclass(slots=True)
class PledgeExpectation:
    """What one holding can still expect: its shares of the loan's unpaid instalments."""

    principal: int = 0
    interest: int = 0
    #: Shares of instalments that are overdue (unpaid past their grace period).
    arrears: int = 0
    next_due_at: datetime | None = None
    next_amount: int = 0


@dataclass(slots=True)
class Expectations:
    by_pledge: dict[int, PledgeExpectation]
    #: pledge id → (principal, interest) received so far (the running totals, ``PledgeRepayment``).
    received: dict[int, tuple[int, int]]
    #: (day, currency) → [principal, interest], loans in default left out.
    by_day: dict[tuple[date, str], list[int]]


def _held_campaigns(owner: PortfolioOwner) -> Any:
    return select(Pledge.campaign_id).where(_pledge_filter(owner), Pledge.status == PledgeStatus.SETTLED.value)


def _raw(column: Any) -> Any:
    """The driver's value as is (text on SQLite): parsing 100,000 timestamps is not free."""
    return type_coerce(column, NullType()).label(column.key)


@dataclass(slots=True)
class Schedule:
    """The unpaid instalments of the held loans and every settled pledge of those campaigns,
    as columns (numpy arrays), ready for the vectorised split."""

    #: instalments, ordered by campaign
    campaign: np.ndarray
    number: np.ndarray
    is_next: np.ndarray
    principal: np.ndarray
    interest: np.ndarray
    overdue: np.ndarray
    defaulted: np.ndarray
    due_raw: list[Any]
    currency: list[str]
    due_day: np.ndarray
    #: holders, ordered by campaign then pledge id (``allocate``'s order)
    holder_campaign: np.ndarray
    holder_pledge: np.ndarray
    holder_amount: np.ndarray
    holder_own: np.ndarray
    #: principal each holder has been repaid so far (recorded shares)
    holder_repaid: np.ndarray
    #: pledge id → (principal, interest) received, for every holder
    received: dict[int, tuple[int, int]]


def load_schedule(owner: PortfolioOwner) -> Schedule:
    """Two queries: the unpaid instalments of the owner's loans, and all their holders with
    what each has been repaid so far (the running totals: the weights of the next split)."""
    held = _held_campaigns(owner)
    instalments = _rows(
        select(Loan.campaign_id, Instalment.number, Instalment.principal, Instalment.interest, Instalment.status,
               Loan.status, _raw(Instalment.due_at), Loan.currency, _raw(_day(Instalment.due_at)))
        .join(Loan, Loan.id == Instalment.loan_id)
        .where(Instalment.status != InstalmentStatus.PAID.value, Loan.campaign_id.in_(held))
        .order_by(Loan.campaign_id, Instalment.number))
    holders = _rows(
        select(Pledge.campaign_id, Pledge.id, Pledge.amount, case((_pledge_filter(owner), 1), else_=0),
               func.coalesce(PledgeRepayment.principal, 0), func.coalesce(PledgeRepayment.interest, 0))
        .outerjoin(PledgeRepayment, PledgeRepayment.pledge_id == Pledge.id)
        .where(Pledge.status == PledgeStatus.SETTLED.value, Pledge.campaign_id.in_(held))
        .order_by(Pledge.campaign_id, Pledge.id))
    i_cols = list(zip(*instalments, strict=True)) or [()] * 9
    h_cols = list(zip(*holders, strict=True)) or [()] * 6
    campaign = np.array(i_cols[0], dtype=np.int64)
    return Schedule(
        campaign=campaign, number=np.array(i_cols[1], dtype=np.int64),
        # Ordered by campaign and number, so a loan's next instalment is its first unpaid row.
        is_next=np.r_[True, campaign[1:] != campaign[:-1]] if len(campaign) else np.zeros(0, dtype=bool),
        principal=np.array(i_cols[2], dtype=np.int64), interest=np.array(i_cols[3], dtype=np.int64),
        overdue=np.array(i_cols[4], dtype=object) == InstalmentStatus.OVERDUE.value,
        defaulted=np.array(i_cols[5], dtype=object) == LoanStatus.DEFAULTED.value,
        due_raw=list(i_cols[6]), currency=list(i_cols[7]),
        # "YYYY-MM-DD" on SQLite, a date on PostgreSQL: numpy reads both.
        due_day=np.array(i_cols[8], dtype="datetime64[D]"),
        holder_campaign=np.array(h_cols[0], dtype=np.int64), holder_pledge=np.array(h_cols[1], dtype=np.int64),
        holder_amount=np.array(h_cols[2], dtype=np.int64), holder_own=np.array(h_cols[3], dtype=bool),
        holder_repaid=np.array(h_cols[4], dtype=np.int64),
        received={pledge_id: (int(principal), int(interest))
                  for pledge_id, principal, interest in zip(h_cols[1], h_cols[4], h_cols[5], strict=True)},
    )


def _largest_remainder(totals: np.ndarray, weights: np.ndarray, weight_sums: np.ndarray, group: np.ndarray,
                       group_start: np.ndarray) -> np.ndarray:
    """``allocate`` for many instalments at once, one row per (instalment, holder).

    Rows are grouped by instalment (``group``, each group starting at ``group_start``) and
    within a group in pledge-id order, the order ``allocate`` gets its weights in.

    :param totals: the instalment's amount, per row
    :param weights: the holder's pledge, per row
    :param weight_sums: the sum of the instalment's weights, per row (at most ``SAFE_PRINCIPAL``)
    """
    product = totals * weights
    shares = product // weight_sums
    remainders = product % weight_sums
    short = totals[group_start] - np.add.reduceat(shares, group_start)
    # One sort: by instalment, then largest remainder first; a stable sort keeps pledge-id
    # order among equal remainders (ties go to the earlier pledge, as in ``allocate``).
    # Remainders are below SAFE_PRINCIPAL < 2**32, so both fit one int64 key.
    key = (group.astype(np.int64) << 32) + (0xFFFFFFFF - remainders)
    order = np.argsort(key, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order)) - group_start[group]
    return shares + (rank < short[group])


def _moment_of(raw: Any) -> datetime:
    if isinstance(raw, datetime):
        return as_utc(raw)
    return as_utc(datetime.fromisoformat(str(raw)))


@dataclass(slots=True)
class ExpectedShares:
    """The owner's share of every unpaid instalment: parallel columns, one row per pair."""

    schedule: Schedule
    instalment: np.ndarray  # index into the schedule's instalment columns
    pledge: np.ndarray
    principal: np.ndarray
    interest: np.ndarray


def expected_shares(owner: PortfolioOwner) -> ExpectedShares:
    """Split every unpaid instalment of the owner's loans over its holders, keep the owner's.

    ``loans.services.receive`` weighs each holding by its outstanding principal (pledged
    minus principal repaid so far), so an instalment's split depends on the ones before
    it. The loop runs over instalment positions — the first unpaid instalment of every
    loan at once, then the second, … — at most a loan term of steps, each one vectorised
    over all loans; the work per step grows with the holdings, the number of steps not.
    """
    s = load_schedule(owner)
    empty = np.zeros(0, dtype=np.int64)
    result = ExpectedShares(s, empty, empty, empty, empty)
    n = len(s.campaign)
    if not n or not len(s.holder_campaign):
        return result
    # Each instalment's holders are one slice of the holder columns: [first, first + count).
    first = np.searchsorted(s.holder_campaign, s.campaign, side="left")
    count = np.searchsorted(s.holder_campaign, s.campaign, side="right") - first
    loan_start = np.flatnonzero(np.r_[True, s.campaign[1:] != s.campaign[:-1]])
    position = np.arange(n) - np.repeat(loan_start, np.diff(np.r_[loan_start, n]))
    outstanding = s.holder_amount - s.holder_repaid
    campaigns, campaign_first = np.unique(s.holder_campaign, return_index=True)
    pledged = np.add.reduceat(s.holder_amount, campaign_first)
    pledged = pledged[np.clip(np.searchsorted(campaigns, s.campaign), 0, len(campaigns) - 1)]
    # Splits whose products could pass 2**63 are left to ``allocate`` itself (below).
    big = (pledged > SAFE_PRINCIPAL) | (s.principal > SAFE_PRINCIPAL) | (s.interest > SAFE_PRINCIPAL)
    parts: list[tuple[np.ndarray, ...]] = []
    for step in range(int(position.max()) + 1):
        chosen = np.flatnonzero((position == step) & ~big & (count > 0))
        if not len(chosen):
            continue
        counts = count[chosen]
        ends = np.cumsum(counts)
        group_start = ends - counts
        group = np.repeat(np.arange(len(chosen)), counts)
        holder = np.repeat(first[chosen], counts) + (np.arange(int(ends[-1])) - np.repeat(group_start, counts))
        weights = outstanding[holder]
        weight_sum = np.add.reduceat(weights, group_start)[group]
        live = weight_sum > 0
        divisor = np.where(live, weight_sum, 1)
        inst = chosen[group]
        principal = _largest_remainder(s.principal[inst], weights, divisor, group, group_start) * live
        interest = _largest_remainder(s.interest[inst], weights, divisor, group, group_start) * live
        outstanding[holder] -= principal  # one instalment per loan per step: no index repeats
        own = s.holder_own[holder]
        parts.append((inst[own], s.holder_pledge[holder][own], principal[own], interest[own]))
    for campaign_rows in _split(np.flatnonzero(big & (count > 0)), s.campaign):
        parts.append(_allocate_in_order(s, campaign_rows, int(first[campaign_rows[0]]),
                                        int(count[campaign_rows[0]]), outstanding))
    if parts:
        result.instalment, result.pledge, result.principal, result.interest = (
            np.concatenate(column) for column in zip(*parts, strict=True))
    return result


def _split(rows: np.ndarray, campaign: np.ndarray) -> list[np.ndarray]:
    """``rows`` (ordered) cut into runs of one campaign each."""
    if not len(rows):
        return []
    cuts = np.flatnonzero(campaign[rows][1:] != campaign[rows][:-1]) + 1
    return np.split(rows, cuts)


def _allocate_in_order(s: Schedule, rows: np.ndarray, lo: int, count: int,
                       outstanding: np.ndarray) -> tuple[np.ndarray, ...]:
    """One large loan's unpaid instalments, in order, each split by ``allocate`` (Python ints)."""
    weights = [int(w) for w in outstanding[lo:lo + count]]
    own = s.holder_own[lo:lo + count]
    pledges = s.holder_pledge[lo:lo + count][own]
    columns: list[list] = [[], [], [], []]
    for i in rows.tolist():
        total_p, total_i = int(s.principal[i]), int(s.interest[i])
        live = sum(weights) > 0
        shares_p = allocate(total_p, weights) if total_p and live else [0] * count
        shares_i = allocate(total_i, weights) if total_i and live else [0] * count
        weights = [w - p for w, p in zip(weights, shares_p, strict=True)]
        columns[0] += [i] * len(pledges)
        columns[1] += pledges.tolist()
        columns[2] += [p for p, mine in zip(shares_p, own, strict=True) if mine]
        columns[3] += [p for p, mine in zip(shares_i, own, strict=True) if mine]
    return (np.array(columns[0], dtype=np.int64), np.array(columns[1], dtype=np.int64),
            np.array(columns[2], dtype=object), np.array(columns[3], dtype=object))


def expectations(owner: PortfolioOwner) -> Expectations:
    """Every holding's expected principal, interest, arrears and next instalment; flows by day."""
    shares = expected_shares(owner)
    result = Expectations(by_pledge={}, received=shares.schedule.received, by_day={})
    if len(shares.pledge):
        _sum_by_pledge(shares, result)
        _sum_by_day(shares, result)
    return result


def _group_sums(codes: np.ndarray, size: int, *columns: np.ndarray) -> list[np.ndarray]:
    """Exact integer sums of each column by ``codes`` (0 ≤ code < size): one sort, no floats."""
    if not len(codes):
        return [np.zeros(size, dtype=column.dtype) for column in columns]
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    result = []
    for column in columns:
        sums = np.zeros(size, dtype=column.dtype)
        sums[ordered[starts]] = np.add.reduceat(column[order], starts)
        result.append(sums)
    return result


def _sum_by_pledge(shares: ExpectedShares, result: Expectations) -> None:
    s, inst = shares.schedule, shares.instalment
    keys, index = np.unique(shares.pledge, return_inverse=True)
    total = shares.principal + shares.interest
    is_next = s.is_next[inst]
    principal, interest, arrears, next_amount = (a.tolist() for a in _group_sums(
        index, len(keys), shares.principal, shares.interest, np.where(s.overdue[inst], total, 0),
        np.where(is_next, total, 0)))
    next_inst = np.full(len(keys), -1, dtype=np.int64)
    next_inst[index[is_next]] = inst[is_next]
    moments: dict[int, datetime] = {}
    for k, (pledge_id, n) in enumerate(zip(keys.tolist(), next_inst.tolist(), strict=True)):
        due = None
        if n >= 0:
            due = moments.get(n)
            if due is None:
                due = moments[n] = _moment_of(s.due_raw[n])
        result.by_pledge[pledge_id] = PledgeExpectation(int(principal[k]), int(interest[k]), int(arrears[k]), due,
                                                        int(next_amount[k]))


def _day_codes(s: Schedule) -> tuple[np.ndarray, list[tuple[date, str]]]:
    """A code per instalment for its (UTC day, currency), and the (day, currency) of each code."""
    day_keys, day_index = np.unique(s.due_day, return_inverse=True)
    currency_keys, currency_index = np.unique(np.array(s.currency, dtype="U3"), return_inverse=True)
    codes = day_index * len(currency_keys) + currency_index
    labels = [(d, str(c)) for d in day_keys.astype(date).tolist() for c in currency_keys]
    return codes.astype(np.int64), labels


def _sum_by_day(shares: ExpectedShares, result: Expectations) -> None:
    s = shares.schedule
    keep = ~s.defaulted[shares.instalment]
    inst = shares.instalment[keep]
    codes, labels = _day_codes(s)
    sums_p, sums_i = _group_sums(codes[inst], len(labels), shares.principal[keep], shares.interest[keep])
    for code in np.flatnonzero((sums_p != 0) | (sums_i != 0)).tolist():
        result.by_day[labels[code]] = [int(sums_p[code]), int(sums_i[code])]


def cash_flow_detail(owner: PortfolioOwner) -> Iterator[tuple]:
    """Every cash flow of the portfolio, by date: (when, currency, kind, campaign id, title,
    pledge id, instalment number, principal, interest).

    ``kind`` is investment (negative), receipt, expected, overdue (expected, past due) or
    in_default (owed by a loan in default, not expected).
    """
    investments = db.session.execute(
        select(func.coalesce(Pledge.paid_at, Pledge.settled_at, Pledge.created_at), Pledge.currency,
               Pledge.campaign_id, Campaign.title, Pledge.id, Pledge.amount)
        .join(Campaign, Campaign.id == Pledge.campaign_id)
        .where(_pledge_filter(owner), Pledge.status.in_(HOLDING_STATUSES),
               Campaign.instrument_type == InstrumentType.LOAN.value))
    rows: list[tuple] = [(at, cur, "investment", cid, title, pid, None, -amount, 0)
                         for at, cur, cid, title, pid, amount in investments]
    received = db.session.execute(
        select(InstalmentShare.paid_at, InstalmentShare.currency, Pledge.campaign_id, Campaign.title,
               InstalmentShare.pledge_id, Instalment.number, InstalmentShare.principal, InstalmentShare.interest)
        .join(Pledge, Pledge.id == InstalmentShare.pledge_id)
        .join(Campaign, Campaign.id == Pledge.campaign_id)
        .join(Instalment, Instalment.id == InstalmentShare.instalment_id)
        .where(_share_filter(owner)))
    rows += [(at, cur, "receipt", cid, title, pid, n, p, i) for at, cur, cid, title, pid, n, p, i in received]
    shares = expected_shares(owner)
    schedule = shares.schedule
    titles = dict(db.session.execute(
        select(Campaign.id, Campaign.title).where(Campaign.id.in_(_held_campaigns(owner)))).all())
    for i, pledge_id, principal, interest in zip(shares.instalment.tolist(), shares.pledge.tolist(),
                                                 shares.principal.tolist(), shares.interest.tolist(), strict=True):
        kind = "in_default" if schedule.defaulted[i] else "overdue" if schedule.overdue[i] else "expected"
        campaign_id = int(schedule.campaign[i])
        rows.append((_moment_of(schedule.due_raw[i]), schedule.currency[i], kind, campaign_id, titles[campaign_id],
                     pledge_id, int(schedule.number[i]), int(principal), int(interest)))
    rows.sort(key=lambda row: (row[0], row[5], row[6] or 0))
    return iter(rows)

