"""The portfolio of one citizen or one fund: holdings, cash flows, XIRR, allocation, impact.

Read-only: nothing here changes state. Whose portfolio a viewer may see is decided here
too (``owner_for_viewer``): a citizen sees their own, every manager of a fund sees the
fund's, and anyone else gets NotFound (404) — the same answer as for a portfolio that
does not exist, so the answer reveals nothing.

Currencies. A portfolio may hold EUR and RUB. With no exchange rates on the platform we
never add one currency to another: every figure (invested, received, expected, XIRR,
allocation) is computed per currency (``Portfolio.by_currency``). The portfolio's
``currency`` is the one shown first — the investor profile's or the fund's currency when
anything is held in it, else the currency with the most invested — and the top-level
figures of the API are that currency's. Attributable impact (tonnes, MWh) has no
currency and is summed over all holdings.

Definitions.
- A holding is a paid or settled pledge to a loan campaign (donations return nothing).
- Invested: the pledged amounts. Allocation is by amount invested; a campaign counts in
  full toward each of its SDGs, so the SDG shares may add up to more than 100 %.
- Outstanding principal: the principal still to come back — the holding's shares of the
  unpaid instalments (loans in default included), or the whole amount while the round
  has not paid out yet.
- Expected: the holding's shares of the unpaid instalments of loans not in default, split
  exactly as ``loans.services.receive`` will split them (largest remainder, weighted by
  each holding's outstanding principal, instalments in order; see ``queries``). An
  overdue share is expected today (it cannot arrive in the past); arrears are reported
  apart, and so is the principal outstanding in loans in default.
- XIRR: over the holdings whose loan has started — investments negative at the day they
  were paid, receipts positive at the day received, expected shares positive at their
  due day. Pledges whose round has not paid out have no schedule yet and are left out.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

import numpy as np
import pyxirr
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.core.errors import NotFound
from app.core.money import allocate
from app.core.permissions import Role
from app.investors import services as investors
from app.loans.models import LoanStatus
from app.payments.models import PledgeStatus
from app.portfolios import queries
from app.portfolios.queries import PortfolioOwner

# --- who sees what ---------------------------------------------------------------------


def own_owner(actor: Any) -> PortfolioOwner:
    """The actor's own portfolio: their fund's if they manage one, else their own as a citizen."""
    fund = investors.fund_for(actor)
    if fund is not None:
        return PortfolioOwner("fund", fund.id, fund.name, fund.currency)
    if actor is None or not actor.has_role(Role.INVESTOR):
        raise NotFound(_("You have no portfolio."))
    profile = investors.get_profile(actor)
    return PortfolioOwner("investor", actor.id, actor.name, profile.currency if profile else None)


def owner_for_viewer(viewer: Any, kind: str, owner_id: int) -> PortfolioOwner:
    """The portfolio ``kind``/``owner_id`` if ``viewer`` may see it, else NotFound."""
    missing = NotFound(_("No such portfolio."))
    if viewer is None:
        raise missing
    try:
        mine = own_owner(viewer)
    except NotFound:
        raise missing from None
    if mine.kind != kind or mine.id != owner_id:
        raise missing
    return mine


# --- results ---------------------------------------------------------------------------

#: Holding states for people and for sorting (a holding's life, in order).
HOLDING_STATUSES = ("funding", "awaiting_payout", "refund_pending", "repaying", "in_arrears", "defaulted",
                    "completed")
STATUS_LABELS = {
    "funding": _l("Round open"),
    "awaiting_payout": _l("Funded, loan starting"),
    "refund_pending": _l("Round failed, refund pending"),
    "repaying": _l("Repaying"),
    "in_arrears": _l("In arrears"),
    "defaulted": _l("In default"),
    "completed": _l("Repaid"),
}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@dataclass(slots=True)
class Holding:
    pledge_id: int
    campaign_id: int
    campaign_title: str
    category: str
    country: str
    risk_class: str | None
    currency: str
    amount: int  # minor units invested
    pledge_status: str
    status: str  # one of HOLDING_STATUSES
    paid_at: datetime
    interest_rate_bps: int | None
    term_months: int | None
    repayment: str | None
    received_principal: int
    received_interest: int
    outstanding_principal: int
    expected_interest: int
    arrears: int
    next_due_at: datetime | None
    next_amount: int
    #: Attributable impact: the campaign's projection × this holding's share of the round.
    co2_tonnes_per_year: float
    energy_mwh_per_year: float

    @property
    def received(self) -> int:
        return self.received_principal + self.received_interest

    @property
    def expected(self) -> int:
        """What is still expected (nothing from a loan in default)."""
        return 0 if self.status == "defaulted" else self.outstanding_principal + self.expected_interest


@dataclass(frozen=True, slots=True)
class Xirr:
    """An annualised rate, or why there is none (``value`` None and a ``reason``)."""

    value: float | None
    reason_code: str | None = None
    #: A lazy translation: rendered in the language of whoever reads it.
    reason: Any = None

    @property
    def available(self) -> bool:
        return self.value is not None


@dataclass(frozen=True, slots=True)
class CashFlow:
    """The portfolio's money on one day: ``kind`` is investment (negative), receipt or expected."""

    day: date
    kind: str
    principal: int
    interest: int

    @property
    def amount(self) -> int:
        return self.principal + self.interest


@dataclass(frozen=True, slots=True)
class Slice:
    """One line of an allocation: ``key`` (a category, country, risk class or SDG number)."""

    key: str
    amount: int
    share_bps: int
    holdings: int


@dataclass(slots=True)
class Impact:
    co2_tonnes_per_year: float = 0.0
    energy_mwh_per_year: float = 0.0
    #: category → (tonnes, MWh), for the chart.
    by_category: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Flows:
    """The cash flows of one currency as columns, ordered by day and kind (expected,
    investment, receipt): one line per day and kind, but overdue shares, all expected
    today, keep a line per due day."""

    day: np.ndarray  # datetime64[D]
    kind: np.ndarray  # str
    principal: np.ndarray  # int64, minor units; investments negative
    interest: np.ndarray

    @classmethod
    def empty(cls) -> "Flows":
        return cls(np.zeros(0, dtype="datetime64[D]"), np.zeros(0, dtype="U10"), np.zeros(0, dtype=np.int64),
                   np.zeros(0, dtype=np.int64))

    @property
    def amount(self) -> np.ndarray:
        return self.principal + self.interest


@dataclass(slots=True)
class CurrencySummary:
    """Every money figure of the portfolio in one currency."""

    currency: str
    holdings: int = 0
    invested: int = 0
    outstanding_principal: int = 0
    received_principal: int = 0
    received_interest: int = 0
    expected_principal: int = 0
    expected_interest: int = 0
    arrears_holdings: int = 0
    arrears_amount: int = 0
    default_holdings: int = 0
    default_outstanding_principal: int = 0
    xirr: Xirr = field(default_factory=lambda: Xirr(None))
    flows: Flows = field(default_factory=Flows.empty)
    allocation: dict[str, list[Slice]] = field(default_factory=dict)
    impact: Impact = field(default_factory=Impact)

    @property
    def received(self) -> int:
        return self.received_principal + self.received_interest

    @property
    def expected(self) -> int:
        return self.expected_principal + self.expected_interest

    @property
    def cash_flows(self) -> list[CashFlow]:
        """The flows one by one, for the API (the page charts them by month: ``monthly``)."""
        f = self.flows
        return [CashFlow(*flow) for flow in zip(f.day.tolist(), f.kind.tolist(), f.principal.tolist(),
                                                f.interest.tolist(), strict=True)]


@dataclass(slots=True)
class HoldingTable:
    """Every holding as columns, in pledge-id order.

    The figures, the allocations and the sort of the holdings table are computed over
    whole columns; only the holdings that are shown become ``Holding`` objects, so a page
    of a fund with 5,000 holdings builds 50 of them.
    """

    #: the queries' columns as the driver gave them (``queries.holding_columns`` and
    #: ``queries.campaign_columns``), and each holding's row of the campaign columns
    pledges: dict[str, np.ndarray]
    campaigns: dict[str, np.ndarray]
    campaign: np.ndarray
    pledge_id: np.ndarray
    amount: np.ndarray
    currency: np.ndarray
    #: index into HOLDING_STATUSES
    status: np.ndarray
    #: the round has paid out and the loan has a schedule
    started: np.ndarray
    paid_at: np.ndarray  # datetime64[us], UTC
    category: np.ndarray
    country: np.ndarray
    #: "-" when not classified
    risk_class: np.ndarray
    #: the campaign's goals, bit n set for SDG n
    sdgs: np.ndarray
    received_principal: np.ndarray
    received_interest: np.ndarray
    outstanding_principal: np.ndarray
    expected_interest: np.ndarray
    arrears: np.ndarray
    next_amount: np.ndarray
    #: when the next instalment is due (datetime64[us]; NaT: none)
    next_due: np.ndarray
    co2_tonnes_per_year: np.ndarray
    energy_mwh_per_year: np.ndarray

    def __len__(self) -> int:
        return len(self.pledge_id)

    def rows_in(self, currency: str) -> list[int]:
        """The positions of the holdings in ``currency``, in pledge-id order."""
        return np.flatnonzero(self.currency == currency).tolist()

    def campaign_column(self, name: str) -> np.ndarray:
        """A column of ``campaigns``, one value per holding."""
        return self.campaigns[name][self.campaign]

    def holding(self, i: int) -> Holding:
        """The holding at position ``i``, as an object."""
        pledge, campaign, c, due = self.pledges, self.campaigns, self.campaign[i], self.next_due[i]
        return Holding(
            pledge["pledge_id"][i], pledge["campaign_id"][i], campaign["title"][c], campaign["category"][c],
            campaign["country"][c], campaign["risk_class"][c], pledge["currency"][i], pledge["amount"][i],
            pledge["pledge_status"][i], HOLDING_STATUSES[self.status[i]], queries.moment(self.paid_at[i]),
            campaign["interest_rate_bps"][c], campaign["term_months"][c], campaign["repayment"][c],
            int(self.received_principal[i]), int(self.received_interest[i]), int(self.outstanding_principal[i]),
            int(self.expected_interest[i]), int(self.arrears[i]), None if np.isnat(due) else queries.moment(due),
            int(self.next_amount[i]), float(self.co2_tonnes_per_year[i]), float(self.energy_mwh_per_year[i]))


@dataclass
class Portfolio:
    owner: PortfolioOwner
    as_of: datetime
    currency: str | None  # the currency shown first; None when nothing is held
    table: HoldingTable
    by_currency: dict[str, CurrencySummary]
    impact: Impact

    @property
    def currencies(self) -> list[str]:
        return sorted(self.by_currency, key=lambda c: (c != self.currency, c))

    @property
    def holdings_count(self) -> int:
        return len(self.table)

    @cached_property
    def holdings(self) -> list[Holding]:
        """Every holding as an object, in pledge-id order: for the API and the downloads."""
        return [self.table.holding(i) for i in range(len(self.table))]

    def summary(self, currency: str | None = None) -> CurrencySummary:
        """The figures in ``currency`` (the first one by default); empty if nothing is held in it."""
        currency = currency or self.currency or self.owner.currency or "EUR"
        return self.by_currency.get(currency) or CurrencySummary(currency=currency, xirr=xirr_of([]))


# --- XIRR ------------------------------------------------------------------------------


def xirr_of(flows: list[tuple[date, int]], *, defaulted: bool = False) -> Xirr:
    """XIRR of dated amounts (pyxirr), or "not available" with a reason people can read.

    :param defaulted: some holdings are in default, which explains a portfolio with no
        money coming back.
    """
    flows = [(d, a) for d, a in flows if a]
    if not flows:
        return Xirr(None, "no_flows", _l("Not available: nothing has been invested in a loan that has started yet."))
    if all(a < 0 for _, a in flows):
        if defaulted:
            return Xirr(None, "defaulted", _l("Not available: the loans are in default, so nothing has come back "
                                              "and nothing more is expected."))
        if len(flows) == 1:
            return Xirr(None, "one_flow", _l("Not available: there is only one cash flow; a return needs money "
                                             "going out and money coming back."))
        return Xirr(None, "no_returns", _l("Not available: nothing has been received or is expected yet."))
    if all(a > 0 for _, a in flows):
        return Xirr(None, "no_investment", _l("Not available: there is no investment among the cash flows."))
    try:
        value = pyxirr.xirr([d for d, _ in flows], [a for _, a in flows])
    except (pyxirr.InvalidPaymentsError, ValueError):
        value = None
    if value is None or value != value:  # NaN
        return Xirr(None, "no_solution", _l("Not available: these cash flows have no internal rate of "
                                                 "return."))
    return Xirr(float(value))


# --- assembling ------------------------------------------------------------------------


#: A settled holding's status follows its loan's.
_LOAN_STATUS = {LoanStatus.ACTIVE.value: "repaying", LoanStatus.OVERDUE.value: "in_arrears",
                LoanStatus.DEFAULTED.value: "defaulted", LoanStatus.COMPLETED.value: "completed"}
_SETTLED = PledgeStatus.SETTLED.value
_STATUS = {status: code for code, status in enumerate(HOLDING_STATUSES)}
DEFAULTED = _STATUS["defaulted"]


def _statuses(pledge_status: np.ndarray, campaign_status: np.ndarray, loan_status: np.ndarray) -> np.ndarray:
    """Each holding's state (its index in HOLDING_STATUSES): a settled holding's follows its
    loan's; before that, its round's."""
    status = np.full(len(pledge_status), _STATUS["awaiting_payout"], dtype=np.int64)
    status[np.isin(campaign_status, ("live", "approved"))] = _STATUS["funding"]
    status[np.isin(campaign_status, ("failed", "cancelled"))] = _STATUS["refund_pending"]
    settled = pledge_status == _SETTLED
    for loan, holding in _LOAN_STATUS.items():
        status[settled & (loan_status == loan)] = _STATUS[holding]
    return status


def _positions(keys: np.ndarray, onto: np.ndarray) -> np.ndarray:
    """The position of each of the ids ``onto`` in ``keys`` (ascending), -1 where absent."""
    if not len(keys):
        return np.full(len(onto), -1)
    position = np.minimum(np.searchsorted(keys, onto), len(keys) - 1)
    return np.where(keys[position] == onto, position, -1)


def _take(column: np.ndarray, position: np.ndarray, missing: Any = 0) -> np.ndarray:
    """``column`` at each position (``_positions``), ``missing`` where absent."""
    if not len(column):
        return np.full(len(position), missing, dtype=column.dtype)
    return np.where(position >= 0, column[position], missing)


def holding_table(pledges: dict[str, np.ndarray], campaigns: dict[str, np.ndarray],
                  expected: queries.Expectations) -> HoldingTable:
    """The holdings (``queries.holding_columns``) with what their campaigns add
    (``queries.campaign_columns``) and their expected and received money."""
    pledge, amount = pledges["pledge_id"].astype(np.int64), pledges["amount"].astype(np.int64)
    campaign = np.searchsorted(campaigns["campaign_id"].astype(np.int64), pledges["campaign_id"].astype(np.int64))

    def spread(name: str) -> np.ndarray:
        return campaigns[name][campaign]

    loan_status = spread("loan_status")
    status = _statuses(pledges["pledge_status"], spread("campaign_status"), loan_status)
    started = np.not_equal(loan_status, None)
    risk_class = spread("risk_class")
    risk_class = np.where(np.equal(risk_class, None), "-", risk_class).astype(str)
    at = _positions(expected.pledge, pledge)
    share = amount / np.maximum(spread("raised_amount").astype(np.int64), amount)
    return HoldingTable(
        pledges=pledges, campaigns=campaigns, campaign=campaign, pledge_id=pledge, amount=amount,
        currency=pledges["currency"].astype("U3"), status=status, started=started,
        paid_at=queries.instants(pledges["paid_at"]), category=spread("category").astype(str),
        country=spread("country").astype(str), risk_class=risk_class,
        sdgs=spread("sdgs").astype(np.int64),
        received_principal=_take(expected.received_principal, at),
        received_interest=_take(expected.received_interest, at),
        # Until the round pays out there is no schedule: the whole pledge is outstanding.
        outstanding_principal=np.where(started, _take(expected.principal, at), amount),
        expected_interest=_take(expected.interest, at),
        arrears=np.where(status == DEFAULTED, 0, _take(expected.arrears, at)),
        next_amount=_take(expected.next_amount, at), next_due=_take(expected.next_due, at, np.datetime64("NaT", "us")),
        co2_tonnes_per_year=spread("co2_tonnes_per_year").astype(float) * share,
        energy_mwh_per_year=spread("energy_mwh_per_year").astype(float) * share,
    )


def _slices(totals: dict[str, list[int]], invested: int, *, overlapping: bool = False) -> list[Slice]:
    """Allocation lines, largest first; shares by largest remainder so they add up to 100 %."""
    keys = sorted(totals, key=lambda k: (-totals[k][0], k))
    amounts = [totals[k][0] for k in keys]
    if overlapping or not keys or invested <= 0:
        shares = [a * 10_000 // invested if invested > 0 else 0 for a in amounts]
    else:
        shares = allocate(10_000, amounts)
    return [Slice(k, totals[k][0], s, totals[k][1]) for k, s in zip(keys, shares, strict=True)]


def _totals(keys: np.ndarray, amounts: np.ndarray) -> dict[str, list[int]]:
    """key → [amount invested, holdings], exact integer sums."""
    unique, index = np.unique(keys, return_inverse=True)
    (sums,) = queries.group_sums(index, len(unique), amounts)
    counts = np.bincount(index, minlength=len(unique))
    return {key: [amount, count] for key, amount, count in zip(unique.tolist(), sums.tolist(), counts.tolist(),
                                                                strict=True)}


def _goal_totals(sdgs: np.ndarray, amounts: np.ndarray) -> dict[str, list[int]]:
    """SDG → [amount invested, holdings]: each holding counts in full toward each of its goals."""
    totals = {}
    for goal in range(1, 18):
        held = ((sdgs >> goal) & 1) == 1
        if held.any():
            totals[str(goal)] = [int(amounts[held].sum()), int(held.sum())]
    return totals


def _allocation(t: HoldingTable, rows: np.ndarray, invested: int) -> dict[str, list[Slice]]:
    amounts = t.amount[rows]
    return {
        "by_sdg": sorted(_slices(_goal_totals(t.sdgs[rows], amounts), invested, overlapping=True),
                         key=lambda x: int(x.key)),
        "by_category": _slices(_totals(t.category[rows], amounts), invested),
        "by_country": _slices(_totals(t.country[rows], amounts), invested),
        "by_risk_class": sorted(_slices(_totals(t.risk_class[rows], amounts), invested), key=lambda x: x.key),
    }


def _impact(t: HoldingTable, rows: np.ndarray) -> Impact:
    """Attributable impact of the holdings ``rows``, in all and by category."""
    co2, mwh = t.co2_tonnes_per_year[rows], t.energy_mwh_per_year[rows]
    categories, index = np.unique(t.category[rows], return_inverse=True)
    by_co2 = np.bincount(index, weights=co2, minlength=len(categories))
    by_mwh = np.bincount(index, weights=mwh, minlength=len(categories))
    by_category = {category: [tonnes, energy] for category, tonnes, energy in zip(
        categories.tolist(), by_co2.tolist(), by_mwh.tolist(), strict=True)}
    return Impact(float(co2.sum()), float(mwh.sum()), by_category)


def _by_day(days: np.ndarray, amounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The days (ascending) and the exact sum of ``amounts`` on each."""
    unique, index = np.unique(days, return_inverse=True)
    (sums,) = queries.group_sums(index, len(unique), amounts)
    return unique, sums


def _flows(t: HoldingTable, rows: np.ndarray, received: queries.DailyFlows, expected: queries.DailyFlows,
           today: date) -> Flows:
    """Investments (by the day paid), receipts and expected money of one currency, by day.
    An overdue share is expected today: it cannot arrive in the past."""
    currency = t.currency[rows[0]]
    invested_days, invested = _by_day(t.paid_at[rows].astype("datetime64[D]"), t.amount[rows])
    r, e = received.currency == currency, expected.currency == currency
    day = np.concatenate([invested_days, received.day[r], np.maximum(expected.day[e], np.datetime64(today, "D"))])
    kind = np.repeat(np.array(["investment", "receipt", "expected"]), [len(invested), r.sum(), e.sum()])
    principal = np.concatenate([-invested, received.principal[r], expected.principal[e]])
    interest = np.concatenate([np.zeros(len(invested), dtype=np.int64), received.interest[r], expected.interest[e]])
    order = np.lexsort((kind, day))  # stable: a day's expected shares stay in due order
    return Flows(day[order], kind[order], principal[order], interest[order])


def _xirr(t: HoldingTable, rows: np.ndarray, flows: Flows, *, defaulted: bool) -> Xirr:
    """XIRR over the holdings whose loan has started: their investments, receipts and expected shares."""
    started = rows[t.started[rows]]
    invested_days, invested = _by_day(t.paid_at[started].astype("datetime64[D]"), t.amount[started])
    back = flows.kind != "investment"
    days, amounts = _by_day(np.concatenate([invested_days, flows.day[back]]),
                            np.concatenate([-invested, flows.amount[back]]))
    return xirr_of(list(zip(days.tolist(), amounts.tolist(), strict=True)), defaulted=defaulted)


def _summary(t: HoldingTable, rows: np.ndarray, received: queries.DailyFlows, expected: queries.DailyFlows,
             today: date) -> CurrencySummary:
    """Every figure of the holdings ``rows`` (all in one currency)."""
    defaulted = rows[t.status[rows] == DEFAULTED]
    expecting = rows[t.started[rows] & (t.status[rows] != DEFAULTED)]
    in_arrears = rows[t.arrears[rows] != 0]
    s = CurrencySummary(
        currency=str(t.currency[rows[0]]), holdings=len(rows), invested=int(t.amount[rows].sum()),
        outstanding_principal=int(t.outstanding_principal[rows].sum()),
        received_principal=int(t.received_principal[rows].sum()),
        received_interest=int(t.received_interest[rows].sum()),
        expected_principal=int(t.outstanding_principal[expecting].sum()),
        expected_interest=int(t.expected_interest[expecting].sum()),
        arrears_holdings=len(in_arrears), arrears_amount=int(t.arrears[in_arrears].sum()),
        default_holdings=len(defaulted), default_outstanding_principal=int(t.outstanding_principal[defaulted].sum()),
        flows=_flows(t, rows, received, expected, today), impact=_impact(t, rows),
    )
    s.xirr = _xirr(t, rows, s.flows, defaulted=s.default_holdings > 0)
    s.allocation = _allocation(t, rows, s.invested)
    return s


def portfolio(owner: PortfolioOwner, *, now: datetime) -> Portfolio:
    """Everything on the portfolio page, from a fixed number of queries, computed over columns."""
    expected = queries.expectations(owner)
    table = holding_table(queries.holding_columns(owner), queries.campaign_columns(owner), expected)
    received = queries.received_by_day(owner)
    by_currency = {}
    for currency in np.unique(table.currency).tolist():
        rows = np.flatnonzero(table.currency == currency)
        by_currency[currency] = _summary(table, rows, received, expected.by_day, now.date())
    return Portfolio(owner=owner, as_of=now, currency=_primary(owner, by_currency), table=table,
                     by_currency=by_currency, impact=_impact(table, np.arange(len(table))))


@dataclass(frozen=True, slots=True)
class Month:
    """The cash flows of one calendar month: what the chart and its table show."""

    month: str  # "2026-11"
    invested: int  # negative
    received: int
    expected: int


def monthly(summary: CurrencySummary) -> list[Month]:
    """Cash flows by month, oldest first (bounded by the calendar, not by the holdings)."""
    f = summary.flows
    months, index = np.unique(f.day.astype("datetime64[M]"), return_inverse=True)
    amount = f.amount
    invested, received, expected = (
        queries.group_sums(index[f.kind == kind], len(months), amount[f.kind == kind])[0].tolist()
        for kind in ("investment", "receipt", "expected"))
    return [Month(*month) for month in zip(np.datetime_as_string(months, unit="M").tolist(), invested, received,
                                           expected, strict=True)]


def _primary(owner: PortfolioOwner, by_currency: dict[str, CurrencySummary]) -> str | None:
    if owner.currency in by_currency:
        return owner.currency
    if not by_currency:
        return owner.currency
    return max(by_currency.values(), key=lambda s: (s.invested, s.currency)).currency


# --- the holdings table ----------------------------------------------------------------


def _or_none(instants: np.ndarray) -> list[int | None]:
    """Instants as sortable integers, None where there is none (NaT)."""
    return [None if missing else value for value, missing in zip(instants.astype(np.int64).tolist(),
                                                                  np.isnat(instants).tolist(), strict=True)]


#: ``?sort=`` keys of the holdings table → the column sorted on (None last either way).
SORT_KEYS: dict[str, Callable[[HoldingTable], list[Any]]] = {
    "campaign": lambda t: [title.casefold() for title in t.campaign_column("title").tolist()],
    "amount": lambda t: t.amount.tolist(),
    "status": lambda t: t.status.tolist(),
    "rate": lambda t: t.campaign_column("interest_rate_bps").tolist(),
    "term": lambda t: t.campaign_column("term_months").tolist(),
    "paid": lambda t: t.paid_at.astype(np.int64).tolist(),
    "next": lambda t: _or_none(t.next_due),
    "received": lambda t: (t.received_principal + t.received_interest).tolist(),
    "outstanding": lambda t: t.outstanding_principal.tolist(),
    "risk": lambda t: t.campaign_column("risk_class").tolist(),
}
DEFAULT_SORT = "paid"


def holding_order(table: HoldingTable, rows: list[int], sort: str | None,
                  direction: str | None) -> tuple[list[int], str, str]:
    """The positions ``rows`` in the asked order (ties by pledge id); unknown keys fall back to
    the default (newest first). Only the shown page's rows then become ``Holding`` objects."""
    if sort not in SORT_KEYS:
        sort, direction = DEFAULT_SORT, "desc"
    direction = "desc" if direction == "desc" else "asc"
    keys = SORT_KEYS[sort](table)
    present = [i for i in rows if keys[i] is not None]
    absent = [i for i in rows if keys[i] is None]
    present.sort(key=keys.__getitem__)  # stable: equal keys stay in pledge-id order
    if direction == "desc":
        present.reverse()
    return present + absent, sort, direction
