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

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

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
    cash_flows: list[CashFlow] = field(default_factory=list)
    allocation: dict[str, list[Slice]] = field(default_factory=dict)
    impact: Impact = field(default_factory=Impact)

    @property
    def received(self) -> int:
        return self.received_principal + self.received_interest

    @property
    def expected(self) -> int:
        return self.expected_principal + self.expected_interest


@dataclass(slots=True)
class Portfolio:
    owner: PortfolioOwner
    as_of: datetime
    currency: str | None  # the currency shown first; None when nothing is held
    holdings: list[Holding]
    by_currency: dict[str, CurrencySummary]
    impact: Impact

    @property
    def currencies(self) -> list[str]:
        return sorted(self.by_currency, key=lambda c: (c != self.currency, c))

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


def _status(pledge_status: str, campaign_status: str, loan_status: str | None) -> str:
    if pledge_status == _SETTLED and loan_status is not None:
        return _LOAN_STATUS[loan_status]
    if campaign_status in ("failed", "cancelled"):
        return "refund_pending"
    if campaign_status in ("live", "approved"):
        return "funding"
    return "awaiting_payout"


def _slices(totals: dict[str, list[int]], invested: int, *, overlapping: bool = False) -> list[Slice]:
    """Allocation lines, largest first; shares by largest remainder so they add up to 100 %."""
    keys = sorted(totals, key=lambda k: (-totals[k][0], k))
    amounts = [totals[k][0] for k in keys]
    if overlapping or not keys or invested <= 0:
        shares = [a * 10_000 // invested if invested > 0 else 0 for a in amounts]
    else:
        shares = allocate(10_000, amounts)
    return [Slice(k, totals[k][0], s, totals[k][1]) for k, s in zip(keys, shares, strict=True)]


def portfolio(owner: PortfolioOwner, *, now: datetime) -> Portfolio:
    """Everything on the portfolio page, from a fixed number of queries."""
    rows = queries.holding_rows(owner)
    expected = queries.expectations(owner)
    received_days = queries.received_by_day(owner)
    sdg_rows = queries.sdg_rows(owner)
    today = now.date()

    holdings: list[Holding] = []
    by_currency: dict[str, CurrencySummary] = {}
    totals: dict[str, dict[str, dict[str, list[int]]]] = defaultdict(lambda: defaultdict(dict))
    invested_days: dict[tuple[date, str], int] = defaultdict(int)
    xirr_invested_days: dict[tuple[date, str], int] = defaultdict(int)
    impact = Impact()
    empty = queries.PledgeExpectation()
    groups: dict[tuple[str, str, str, str], list[Holding]] = defaultdict(list)
    by_pledge = expected.by_pledge
    received = expected.received
    for (pledge_id, campaign_id, amount, currency, pledge_status, paid_at, title, category, country, risk_class,
         campaign_status, raised_amount, co2, mwh, rate, term, repayment, loan_status) in rows:
        status = _status(pledge_status, campaign_status, loan_status)
        e = by_pledge.get(pledge_id, empty)
        received_principal, received_interest = received.get(pledge_id, (0, 0))
        outstanding = amount if loan_status is None else e.principal
        share = amount / max(raised_amount or 0, amount)
        h = Holding(pledge_id, campaign_id, title, category, country, risk_class, currency, amount, pledge_status,
                    status, paid_at, rate, term, repayment, received_principal, received_interest,
                    outstanding, e.interest, e.arrears if status != "defaulted" else 0, e.next_due_at,
                    e.next_amount, (co2 or 0.0) * share, (mwh or 0.0) * share)
        holdings.append(h)
        s = by_currency.get(currency)
        if s is None:
            s = by_currency[currency] = CurrencySummary(currency=currency)
        s.holdings += 1
        s.invested += amount
        s.outstanding_principal += outstanding
        s.received_principal += h.received_principal
        s.received_interest += h.received_interest
        if status == "defaulted":
            s.default_holdings += 1
            s.default_outstanding_principal += outstanding
        elif loan_status is not None:
            s.expected_principal += outstanding
            s.expected_interest += h.expected_interest
        if h.arrears:
            s.arrears_holdings += 1
            s.arrears_amount += h.arrears
        day = paid_at.date()
        invested_days[(day, currency)] -= amount
        if loan_status is not None:
            xirr_invested_days[(day, currency)] -= amount
        groups[(currency, category, country, risk_class or "-")].append(h)

    for (currency, category, country, risk_class), members in groups.items():
        dims = totals[currency]
        amount, count = sum(h.amount for h in members), len(members)
        for dimension, key in (("by_category", category), ("by_country", country), ("by_risk_class", risk_class)):
            line = dims[dimension].setdefault(key, [0, 0])
            line[0] += amount
            line[1] += count
        co2 = sum(h.co2_tonnes_per_year for h in members)
        mwh = sum(h.energy_mwh_per_year for h in members)
        for target in (impact, by_currency[currency].impact):
            target.co2_tonnes_per_year += co2
            target.energy_mwh_per_year += mwh
            line_f = target.by_category.setdefault(category, [0.0, 0.0])
            line_f[0] += co2
            line_f[1] += mwh

    for currency, sdg, amount, count in sdg_rows:
        totals[currency]["by_sdg"][str(sdg)] = [int(amount), int(count)]

    flows: dict[str, list[CashFlow]] = defaultdict(list)
    xirr_flows: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for (day, currency), amount in invested_days.items():
        flows[currency].append(CashFlow(day, "investment", amount, 0))
    for (day, currency), amount in xirr_invested_days.items():
        xirr_flows[currency].append((day, amount))
    for day, currency, principal, interest in received_days:
        flows[currency].append(CashFlow(day, "receipt", principal, interest))
        xirr_flows[currency].append((day, principal + interest))
    for (day, currency), (principal, interest) in expected.by_day.items():
        day = max(day, today)
        flows[currency].append(CashFlow(day, "expected", principal, interest))
        xirr_flows[currency].append((day, principal + interest))

    for currency, s in by_currency.items():
        s.cash_flows = sorted(flows[currency], key=lambda f: (f.day, f.kind))
        s.xirr = xirr_of(_merge(xirr_flows[currency]), defaulted=s.default_holdings > 0)
        dims = totals[currency]
        s.allocation = {
            "by_sdg": sorted(_slices(dims.get("by_sdg", {}), s.invested, overlapping=True),
                             key=lambda x: int(x.key)),
            "by_category": _slices(dims.get("by_category", {}), s.invested),
            "by_country": _slices(dims.get("by_country", {}), s.invested),
            "by_risk_class": sorted(_slices(dims.get("by_risk_class", {}), s.invested), key=lambda x: x.key),
        }

    return Portfolio(owner=owner, as_of=now, currency=_primary(owner, by_currency), holdings=holdings,
                     by_currency=by_currency, impact=impact)


@dataclass(frozen=True, slots=True)
class Month:
    """The cash flows of one calendar month: what the chart and its table show."""

    month: str  # "2026-11"
    invested: int  # negative
    received: int
    expected: int


def monthly(summary: CurrencySummary) -> list[Month]:
    """Cash flows by month, oldest first (bounded by the calendar, not by the holdings)."""
    months: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for flow in summary.cash_flows:
        months[flow.day.strftime("%Y-%m")][flow.kind] += flow.amount
    return [Month(m, months[m]["investment"], months[m]["receipt"], months[m]["expected"]) for m in sorted(months)]


def _merge(flows: list[tuple[date, int]]) -> list[tuple[date, int]]:
    """One amount per day (XIRR is the same, and pyxirr gets fewer points)."""
    merged: dict[date, int] = defaultdict(int)
    for day, amount in flows:
        merged[day] += amount
    return sorted(merged.items())


def _primary(owner: PortfolioOwner, by_currency: dict[str, CurrencySummary]) -> str | None:
    if owner.currency in by_currency:
        return owner.currency
    if not by_currency:
        return owner.currency
    return max(by_currency.values(), key=lambda s: (s.invested, s.currency)).currency


# --- the holdings table ----------------------------------------------------------------

#: ``?sort=`` keys of the holdings table → the value sorted on (None last either way).
SORT_KEYS = {
    "campaign": lambda h: h.campaign_title.casefold(),
    "amount": lambda h: h.amount,
    "status": lambda h: HOLDING_STATUSES.index(h.status),
    "rate": lambda h: h.interest_rate_bps,
    "term": lambda h: h.term_months,
    "paid": lambda h: h.paid_at,
    "next": lambda h: h.next_due_at,
    "received": lambda h: h.received,
    "outstanding": lambda h: h.outstanding_principal,
    "risk": lambda h: h.risk_class,
}
DEFAULT_SORT = "paid"


def sorted_holdings(holdings: list[Holding], sort: str | None, direction: str | None) -> tuple[list[Holding], str,
                                                                                                 str]:
    """The holdings in the asked order; unknown keys fall back to the default (newest first)."""
    if sort not in SORT_KEYS:
        sort, direction = DEFAULT_SORT, "desc"
    direction = "desc" if direction == "desc" else "asc"
    key = SORT_KEYS[sort]
    present = [h for h in holdings if key(h) is not None]
    absent = [h for h in holdings if key(h) is None]
    present.sort(key=lambda h: (key(h), h.pledge_id), reverse=direction == "desc")
    return present + absent, sort, direction
