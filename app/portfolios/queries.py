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

Results are columns, not objects. A fund with 5,000 holdings reads some 38,000 rows;
every container object that lives through a few young garbage collections counts toward
a full collection of the interpreter's heap, which costs 200–300 ms in a loaded app, and
SQLAlchemy ``Row`` objects, ``zip(*rows)``'s iterator per row and an object per holding
set one off on nearly every page view. So rows come back as the driver's plain tuples
(``_rows``; tuples of numbers and text are untracked at the collector's first look),
numpy takes them apart into columns (``_columns``), and timestamps come as numbers or
ISO text that numpy reads in one call (``_Instant``).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from app.campaigns.models import Campaign, CampaignSdg, InstrumentType
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


def _rows(statement: Any) -> list[tuple]:
    """Run a read-only statement on the session's connection and return the driver's rows.

    The values are the driver's, with no result processing: select timestamps as
    ``_Instant``.
    """
    result = db.session.connection().execute(statement)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _columns(statement: Any) -> np.ndarray:
    """The statement's rows as a 2-D object array, a column per selected column: numpy takes
    the columns apart without making a Python object per row (``zip(*rows)`` made one)."""
    rows = _rows(statement)
    return np.array(rows, dtype=object).reshape(len(rows), len(statement.selected_columns))


class _Instant(FunctionElement):
    """A timestamp (or a date) in the form numpy reads at once (``instants``).

    SQLite keeps UTC timestamps as ISO text: as they are. On PostgreSQL psycopg would build
    an aware datetime per value, a Python call each (some 2 µs, and a large fund reads
    25,000 of them): microseconds since 1970 instead, which are the same in any session
    time zone.
    """

    type = NullType()  # text or an integer, read by ``instants``
    name = "instant"
    inherit_cache = True


@compiles(_Instant)
def _instant_as_stored(element: _Instant, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_Instant, "postgresql")
def _instant_in_microseconds(element: _Instant, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) * 1000000 AS BIGINT)"


def instants(column: np.ndarray) -> np.ndarray:
    """A column of ``_Instant`` values as UTC datetime64[us] (text parsed, integers counted)."""
    return column.astype("datetime64[us]")


def moment(instant: np.datetime64) -> datetime:
    """An instant of ``instants`` as an aware datetime in UTC."""
    return instant.astype(datetime).replace(tzinfo=UTC)


# --- holdings --------------------------------------------------------------------------


def _named(statement: Any) -> dict[str, np.ndarray]:
    """The statement's columns (``_columns``) by their names."""
    columns = _columns(statement)
    return {name: columns[:, k] for k, name in enumerate(statement.selected_columns.keys())}


def holding_columns(owner: PortfolioOwner) -> dict[str, np.ndarray]:
    """Every holding — a paid or settled pledge to a loan campaign — as named columns, in
    pledge-id order; ``paid_at`` is an ``_Instant``. What the campaign adds is read once per
    campaign (``campaign_columns``), not once per holding."""
    paid_at = func.coalesce(Pledge.paid_at, Pledge.settled_at, Pledge.created_at)
    return _named(
        select(Pledge.id.label("pledge_id"), Pledge.campaign_id, Pledge.amount, Pledge.currency,
               Pledge.status.label("pledge_status"), _Instant(paid_at).label("paid_at"))
        .join(Campaign, Campaign.id == Pledge.campaign_id)
        .where(_pledge_filter(owner), Pledge.status.in_(HOLDING_STATUSES),
               Campaign.instrument_type == InstrumentType.LOAN.value)
        .order_by(Pledge.id))


def campaign_columns(owner: PortfolioOwner) -> dict[str, np.ndarray]:
    """The campaigns of the owner's holdings as named columns, by campaign id: their loan's
    terms and status, and their goals as one bit mask (``sdgs``: bit n set for SDG n)."""
    sdgs = (select(func.sum(literal(1).op("<<")(CampaignSdg.sdg)))
            .where(CampaignSdg.campaign_id == Campaign.id).scalar_subquery())
    held = select(Pledge.campaign_id).where(_pledge_filter(owner), Pledge.status.in_(HOLDING_STATUSES))
    return _named(
        select(Campaign.id.label("campaign_id"), Campaign.title, Campaign.category, Campaign.country,
               Campaign.risk_class, Campaign.status.label("campaign_status"), Campaign.raised_amount,
               Campaign.co2_tonnes_per_year, Campaign.energy_mwh_per_year,
               func.coalesce(Loan.interest_rate_bps, Campaign.interest_rate_bps).label("interest_rate_bps"),
               func.coalesce(Loan.term_months, Campaign.term_months).label("term_months"),
               func.coalesce(Loan.repayment, Campaign.repayment).label("repayment"),
               Loan.status.label("loan_status"), func.coalesce(sdgs, 0).label("sdgs"))
        .outerjoin(Loan, Loan.campaign_id == Campaign.id)
        .where(Campaign.id.in_(held), Campaign.instrument_type == InstrumentType.LOAN.value)
        .order_by(Campaign.id))


@dataclass(frozen=True, slots=True)
class DailyFlows:
    """Money by day and currency, as parallel columns (one row per day and currency)."""

    day: np.ndarray  # datetime64[D]
    currency: np.ndarray  # str
    principal: np.ndarray  # int64, minor units
    interest: np.ndarray

    @classmethod
    def from_columns(cls, columns: np.ndarray) -> "DailyFlows":
        """From (day as an ``_Instant``, currency, principal, interest) columns."""
        return cls(instants(columns[:, 0]).astype("datetime64[D]"), columns[:, 1].astype("U3"),
                   columns[:, 2].astype(np.int64), columns[:, 3].astype(np.int64))

    @classmethod
    def empty(cls) -> "DailyFlows":
        return cls.from_columns(np.zeros((0, 4), dtype=object))


def received_by_day(owner: PortfolioOwner) -> DailyFlows:
    """What was actually received: the running totals by day (``RepaymentDay``), one row per
    day whatever the number of holdings."""
    statement = (
        select(_Instant(RepaymentDay.day), RepaymentDay.currency, RepaymentDay.principal, RepaymentDay.interest)
        .where(RepaymentDay.owner_type == owner.kind, RepaymentDay.owner_id == owner.id)
    )
    return DailyFlows.from_columns(_columns(statement))


# --- expected shares of unpaid instalments ---------------------------------------------


@dataclass(slots=True)
class Expectations:
    """What the owner's settled holdings can still expect and have received, as columns by
    pledge id (``pledge``, ascending)."""

    pledge: np.ndarray
    principal: np.ndarray
    interest: np.ndarray
    #: shares of instalments that are overdue (unpaid past their grace period)
    arrears: np.ndarray
    #: the loan's next instalment: the pledge's share of it and when it is due (NaT: none)
    next_amount: np.ndarray
    next_due: np.ndarray
    #: what each has received so far (the running totals, ``PledgeRepayment``)
    received_principal: np.ndarray
    received_interest: np.ndarray
    #: expected by day and currency, loans in default left out
    by_day: DailyFlows


def _held_campaigns(owner: PortfolioOwner) -> Any:
    return select(Pledge.campaign_id).where(_pledge_filter(owner), Pledge.status == PledgeStatus.SETTLED.value)


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
    due_at: np.ndarray  # datetime64[us], UTC
    currency: np.ndarray
    #: holders, ordered by campaign then pledge id (``allocate``'s order)
    holder_campaign: np.ndarray
    holder_pledge: np.ndarray
    holder_amount: np.ndarray
    holder_own: np.ndarray
    #: principal and interest each holder has been repaid so far (recorded shares)
    holder_repaid: np.ndarray
    holder_repaid_interest: np.ndarray


def load_schedule(owner: PortfolioOwner) -> Schedule:
    """Two queries: the unpaid instalments of the owner's loans, and all their holders with
    what each has been repaid so far (the running totals: the weights of the next split)."""
    held = _held_campaigns(owner)
    instalments = _columns(
        select(Loan.campaign_id, Instalment.number, Instalment.principal, Instalment.interest,
               Instalment.status == InstalmentStatus.OVERDUE.value, Loan.status == LoanStatus.DEFAULTED.value,
               _Instant(Instalment.due_at), Loan.currency)
        .join(Loan, Loan.id == Instalment.loan_id)
        .where(Instalment.status != InstalmentStatus.PAID.value, Loan.campaign_id.in_(held))
        .order_by(Loan.campaign_id, Instalment.number))
    holders = _columns(
        select(Pledge.campaign_id, Pledge.id, Pledge.amount, case((_pledge_filter(owner), 1), else_=0),
               func.coalesce(PledgeRepayment.principal, 0), func.coalesce(PledgeRepayment.interest, 0))
        .outerjoin(PledgeRepayment, PledgeRepayment.pledge_id == Pledge.id)
        .where(Pledge.status == PledgeStatus.SETTLED.value, Pledge.campaign_id.in_(held))
        .order_by(Pledge.campaign_id, Pledge.id))
    campaign = instalments[:, 0].astype(np.int64)
    return Schedule(
        campaign=campaign, number=instalments[:, 1].astype(np.int64),
        # Ordered by campaign and number, so a loan's next instalment is its first unpaid row.
        is_next=np.r_[True, campaign[1:] != campaign[:-1]] if len(campaign) else np.zeros(0, dtype=bool),
        principal=instalments[:, 2].astype(np.int64), interest=instalments[:, 3].astype(np.int64),
        overdue=instalments[:, 4].astype(bool), defaulted=instalments[:, 5].astype(bool),
        due_at=instants(instalments[:, 6]), currency=instalments[:, 7].astype("U3"),
        holder_campaign=holders[:, 0].astype(np.int64), holder_pledge=holders[:, 1].astype(np.int64),
        holder_amount=holders[:, 2].astype(np.int64), holder_own=holders[:, 3].astype(bool),
        holder_repaid=holders[:, 4].astype(np.int64), holder_repaid_interest=holders[:, 5].astype(np.int64),
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


@dataclass(slots=True)
class ExpectedShares:
    """The owner's share of every unpaid instalment: parallel columns, one row per pair."""

    schedule: Schedule
    instalment: np.ndarray  # index into the schedule's instalment columns
    holder: np.ndarray  # index into the schedule's holder columns
    principal: np.ndarray
    interest: np.ndarray

    @property
    def pledge(self) -> np.ndarray:
        return self.schedule.holder_pledge[self.holder]


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
        parts.append((inst[own], holder[own], principal[own], interest[own]))
    for campaign_rows in _split(np.flatnonzero(big & (count > 0)), s.campaign):
        parts.append(_allocate_in_order(s, campaign_rows, int(first[campaign_rows[0]]),
                                        int(count[campaign_rows[0]]), outstanding))
    if parts:
        result.instalment, result.holder, result.principal, result.interest = (
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
    holders = (np.flatnonzero(own) + lo).tolist()
    columns: list[list] = [[], [], [], []]
    for i in rows.tolist():
        total_p, total_i = int(s.principal[i]), int(s.interest[i])
        live = sum(weights) > 0
        shares_p = allocate(total_p, weights) if total_p and live else [0] * count
        shares_i = allocate(total_i, weights) if total_i and live else [0] * count
        weights = [w - p for w, p in zip(weights, shares_p, strict=True)]
        columns[0] += [i] * len(holders)
        columns[1] += holders
        columns[2] += [p for p, mine in zip(shares_p, own, strict=True) if mine]
        columns[3] += [p for p, mine in zip(shares_i, own, strict=True) if mine]
    # Each share is at most its instalment (a BigInteger): int64 holds it; only the products did not.
    return tuple(np.array(column, dtype=np.int64) for column in columns)


def expectations(owner: PortfolioOwner) -> Expectations:
    """Every settled holding's expected principal, interest, arrears and next instalment, what
    it has received so far, and the expected flows by day: all as columns."""
    shares = expected_shares(owner)
    s = shares.schedule
    own = np.flatnonzero(s.holder_own)
    own = own[np.argsort(s.holder_pledge[own], kind="stable")]
    principal, interest, arrears, next_amount, next_due = (column[own] for column in _sum_by_holder(shares))
    return Expectations(pledge=s.holder_pledge[own], principal=principal, interest=interest, arrears=arrears,
                        next_amount=next_amount, next_due=next_due, received_principal=s.holder_repaid[own],
                        received_interest=s.holder_repaid_interest[own], by_day=_sum_by_day(shares))


def group_sums(codes: np.ndarray, size: int, *columns: np.ndarray) -> list[np.ndarray]:
    """Exact integer sums of each column by ``codes`` (0 ≤ code < size): no floats."""
    result = []
    for column in columns:
        sums = np.zeros(size, dtype=column.dtype)
        np.add.at(sums, codes, column)
        result.append(sums)
    return result


def _sum_by_holder(shares: ExpectedShares) -> tuple[np.ndarray, ...]:
    """(principal, interest, arrears, next amount, next due) of every holder of the schedule."""
    s, inst, holder = shares.schedule, shares.instalment, shares.holder
    size = len(s.holder_pledge)
    total = shares.principal + shares.interest
    is_next = s.is_next[inst]
    principal, interest, arrears, next_amount = group_sums(
        holder, size, shares.principal, shares.interest, np.where(s.overdue[inst], total, 0),
        np.where(is_next, total, 0))
    next_due = np.full(size, np.datetime64("NaT", "us"))
    next_due[holder[is_next]] = s.due_at[inst[is_next]]
    return principal, interest, arrears, next_amount, next_due


def _sum_by_day(shares: ExpectedShares) -> DailyFlows:
    """The owner's expected shares by (UTC day, currency), loans in default left out."""
    s = shares.schedule
    if not len(s.campaign):
        return DailyFlows.empty()
    keep = ~s.defaulted
    by_instalment = group_sums(shares.instalment, len(s.campaign), shares.principal, shares.interest)
    days, day_index = np.unique(s.due_at.astype("datetime64[D]"), return_inverse=True)
    currencies, currency_index = np.unique(s.currency, return_inverse=True)
    codes = day_index * len(currencies) + currency_index
    principal, interest = group_sums(codes[keep], len(days) * len(currencies),
                                     *(column[keep] for column in by_instalment))
    held = np.flatnonzero((principal != 0) | (interest != 0))
    return DailyFlows(days[held // len(currencies)], currencies[held % len(currencies)], principal[held],
                      interest[held])


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
        rows.append((moment(schedule.due_at[i]), str(schedule.currency[i]), kind, campaign_id, titles[campaign_id],
                     pledge_id, int(schedule.number[i]), int(principal), int(interest)))
    rows.sort(key=lambda row: (row[0], row[5], row[6] or 0))
    return iter(rows)

