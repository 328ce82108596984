"""The portfolio service: XIRR, expected shares (as receive() will split them), figures,
allocation, impact, currencies, and a query count that does not grow with the holdings."""

import random
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import event, select

from app.core.money import allocate
from app.extensions import db
from app.loans import services as loans
from app.loans.models import InstalmentShare, PledgeRepayment, RepaymentDay
from app.payments.models import Pledge
from app.portfolios import queries, services
from app.portfolios.queries import PortfolioOwner
from tests.factories import NOW
from tests.portfolios import factories as f


@pytest.fixture(autouse=True)
def _request(app):
    """Reasons and messages are translated, which needs a request (the language is the visitor's)."""
    with app.test_request_context():
        yield


# --- XIRR ------------------------------------------------------------------------------


def test_xirr_matches_microsofts_published_example():
    """The worked example of Excel's XIRR documentation: 0.373362535 (37.34 %)."""
    flows = [(date(2008, 1, 1), -10000), (date(2008, 3, 1), 2750), (date(2008, 10, 30), 4250),
             (date(2009, 2, 15), 3250), (date(2009, 4, 1), 2750)]
    result = services.xirr_of(flows)
    assert result.available
    assert result.value == pytest.approx(0.373362535, abs=1e-8)


def test_xirr_of_a_one_year_loan_is_its_rate():
    assert services.xirr_of([(date(2025, 1, 1), -1000_00), (date(2026, 1, 1), 1065_00)]).value == \
        pytest.approx(0.065, abs=1e-9)


@pytest.mark.parametrize(("flows", "defaulted", "code"), [
    ([], False, "no_flows"),
    ([(date(2026, 1, 1), -500_00)], False, "one_flow"),
    ([(date(2026, 1, 1), -500_00)], True, "defaulted"),
    ([(date(2026, 1, 1), -500_00), (date(2026, 2, 1), -100_00)], False, "no_returns"),
    ([(date(2026, 1, 1), 500_00), (date(2026, 2, 1), 100_00)], False, "no_investment"),
    ([(date(2026, 1, 1), 0)], False, "no_flows"),
])
def test_xirr_without_an_answer_says_why_instead_of_failing(flows, defaulted, code):
    result = services.xirr_of(flows, defaulted=defaulted)
    assert result.value is None
    assert result.reason_code == code
    assert str(result.reason).startswith("Not available")


# --- the vectorised split --------------------------------------------------------------


def test_the_vectorised_split_equals_allocate_for_every_instalment():
    rng = random.Random(8)
    totals, weights, groups = [], [], []
    expected = []
    for g in range(400):
        w = [rng.choice([1, 3, 7, 100, 333, 334, 5000, rng.randint(1, 10**6)]) for _ in range(rng.randint(1, 9))]
        t = rng.choice([0, 1, 2, 99, 100, rng.randint(0, 10**7)])
        expected += allocate(t, w)
        totals += [t] * len(w)
        weights += w
        groups += [g] * len(w)
    group = np.array(groups)
    group_start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sums = np.add.reduceat(np.array(weights), group_start)
    result = queries._largest_remainder(np.array(totals), np.array(weights), sums[group], group, group_start)
    assert result.tolist() == expected


# --- figures ---------------------------------------------------------------------------


def _owner(user):
    return services.own_owner(user)


def test_an_empty_portfolio_has_zeros_and_no_xirr():
    user = f.investor()
    p = services.portfolio(_owner(user), now=NOW)
    assert p.holdings == []
    s = p.summary()
    assert (s.invested, s.outstanding_principal, s.received, s.expected) == (0, 0, 0, 0)
    assert s.xirr.reason_code == "no_flows"
    assert s.currency == "EUR"


def test_a_pledge_whose_round_is_open_is_held_but_has_no_schedule_yet():
    user = f.investor()
    campaign = f.campaign(status="live")
    f.pledge(campaign, user, 250_00, status="paid")
    p = services.portfolio(_owner(user), now=NOW)
    [holding] = p.holdings
    assert holding.status == "funding"
    assert holding.outstanding_principal == 250_00
    assert holding.next_due_at is None
    s = p.summary()
    assert s.invested == 250_00 and s.expected == 0
    assert s.xirr.reason_code == "no_flows"


def test_timestamps_come_back_to_the_microsecond_in_utc():
    """Paid and due times are read as numbers (``queries.instants``), not driver datetimes."""
    user = f.investor()
    starts_at = NOW - timedelta(days=20, microseconds=123_457)
    loan = f.fund_loan(f.campaign(term_months=3), [(user, 300_00)], starts_at=starts_at)
    [holding] = services.portfolio(_owner(user), now=NOW).holdings
    assert holding.paid_at == starts_at - timedelta(days=5)
    assert holding.paid_at.tzinfo is not None and holding.paid_at.utcoffset() == timedelta(0)
    assert holding.next_due_at == min(i.due_at for i in loan.instalments)


def test_the_holdings_sort_keeps_ties_in_pledge_order_and_missing_values_last():
    user = f.investor()
    started = f.fund_loan(f.campaign(), [(user, 200_00), (user, 200_00)])
    f.pledge(f.campaign(status="live"), user, 200_00, status="paid")  # no schedule: no next instalment
    p = services.portfolio(_owner(user), now=NOW)
    table = p.table
    ids = table.pledge_id.tolist()

    def order(sort: str, direction: str) -> list[int]:
        positions, *_ = services.holding_order(table, table.rows_in("EUR"), sort, direction)
        return [ids[i] for i in positions]

    settled = sorted(db.session.scalars(select(Pledge.id).where(Pledge.campaign_id == started.campaign_id)))
    open_round = (set(ids) - set(settled)).pop()
    assert order("amount", "asc") == [*settled, open_round]
    assert order("amount", "desc") == [open_round, *settled[::-1]]
    assert order("next", "asc") == [*settled, open_round]
    assert order("next", "desc") == [*settled[::-1], open_round]  # None last either way
    assert services.holding_order(table, [], "nonsense", "up") == ([], "paid", "desc")


def test_expected_shares_are_what_receive_will_pay_to_the_minor_unit():
    """Awkward weights, two of the holder's own pledges: predict, then pay and compare."""
    a, b, c = f.investor(), f.investor(), f.investor()
    campaign = f.campaign(interest_rate_bps=725, term_months=7)
    loan = f.fund_loan(campaign, [(a, 333_33), (b, 333_33), (a, 333_34), (c, 1_01)])
    f.pay(loan, 2)
    owner = _owner(a)
    before = {h.pledge_id: h for h in services.portfolio(owner, now=NOW).holdings}
    assert len(before) == 2
    f.pay(loan, 5)
    paid = {}
    for share in db.session.scalars(select(InstalmentShare).where(InstalmentShare.investor_id == a.id)):
        paid.setdefault(share.pledge_id, []).append(share)
    for pledge_id, holding in before.items():
        later = sorted(paid[pledge_id], key=lambda s: s.instalment_id)[2:]
        assert holding.outstanding_principal == sum(s.principal for s in later)
        assert holding.expected_interest == sum(s.interest for s in later)
        assert holding.next_amount == later[0].principal + later[0].interest
    after = services.portfolio(owner, now=NOW)
    assert all(h.status == "completed" and h.outstanding_principal == 0 for h in after.holdings)
    assert sorted(h.received_principal for h in after.holdings) == [333_33, 333_34]
    assert after.summary().expected == 0


def _totals() -> tuple[list, list]:
    return (sorted(db.session.execute(select(PledgeRepayment.__table__)).all()),
            sorted(db.session.execute(select(RepaymentDay.__table__)).all()))


def test_receive_keeps_the_running_totals_equal_to_the_shares():
    """What the portfolio reads instead of summing ``instalment_shares``: per holding and per
    portfolio and day, the same sums a rebuild from the shares gives."""
    a, b = f.investor(), f.investor()
    fund, [manager] = f.fund()
    loan = f.fund_loan(f.campaign(interest_rate_bps=725, term_months=7),
                       [(a, 333_33), (manager, 333_33, fund.id), (a, 333_34), (b, 1_01)])
    f.pay(loan, 3)
    kept = _totals()
    shares = db.session.scalars(select(InstalmentShare)).all()
    for pledge_id, principal, interest in kept[0]:
        mine = [s for s in shares if s.pledge_id == pledge_id]
        assert (principal, interest) == (sum(s.principal for s in mine), sum(s.interest for s in mine))
    assert {(kind, owner) for kind, owner, *_ in kept[1]} == {("investor", a.id), ("investor", b.id),
                                                              ("fund", fund.id)}
    assert sum(p + i for *_, p, i in kept[1]) == sum(s.principal + s.interest for s in shares)
    loans.rebuild_repayment_totals()
    assert _totals() == kept


def test_loans_too_large_for_int64_products_are_split_by_allocate_with_the_same_result(monkeypatch):
    a, b = f.investor(), f.investor()
    campaign = f.campaign(interest_rate_bps=650, term_months=5)
    loan = f.fund_loan(campaign, [(a, 700_01), (b, 299_99), (a, 3)])
    f.pay(loan, 1)
    owner = _owner(a)
    vectorised = _expectation_columns(queries.expectations(owner))
    monkeypatch.setattr(queries, "SAFE_PRINCIPAL", 10)
    by_allocate = _expectation_columns(queries.expectations(owner))
    assert by_allocate == vectorised
    assert len(vectorised["pledge"]) == 2 and sum(vectorised["principal"]) > 0


def _expectation_columns(e: queries.Expectations) -> dict[str, list]:
    columns = {name: getattr(e, name) for name in ("pledge", "principal", "interest", "arrears", "next_amount")}
    columns |= {f"by_day.{name}": getattr(e.by_day, name) for name in ("day", "currency", "principal", "interest")}
    assert all(column.dtype != object for column in columns.values())  # exact int64, not Python objects
    return {name: column.tolist() for name, column in columns.items()} | {"next_due": e.next_due.tolist()}


def test_figures_received_outstanding_and_xirr_of_a_repaying_loan():
    a, b = f.investor(), f.investor()
    campaign = f.campaign(interest_rate_bps=600, term_months=12)
    loan = f.fund_loan(campaign, [(a, 600_00), (b, 400_00)], starts_at=NOW - timedelta(days=200))
    f.pay(loan, 4)
    p = services.portfolio(_owner(a), now=NOW)
    [h] = p.holdings
    received = db.session.scalars(select(InstalmentShare).where(InstalmentShare.pledge_id == h.pledge_id)).all()
    assert h.status == "repaying"
    assert h.received_principal == sum(s.principal for s in received)
    assert h.received_interest == sum(s.interest for s in received) > 0
    assert h.received_principal + h.outstanding_principal == 600_00  # every cent of principal comes back
    s = p.summary()
    assert s.received == h.received and s.expected == h.outstanding_principal + h.expected_interest
    # paid 5 days before the loan started, so a little under the nominal 6 % compounded monthly
    assert 0.055 < s.xirr.value < 0.062
    kinds = {flow.kind for flow in s.cash_flows}
    assert kinds == {"investment", "receipt", "expected"}


def test_arrears_and_defaults_are_reported_apart():
    a, b = f.investor(), f.investor()
    late = f.fund_loan(f.campaign(term_months=6), [(a, 500_00), (b, 500_00)], starts_at=NOW - timedelta(days=100))
    f.pay(late, 1)
    f.overdue(late, 2)
    gone = f.fund_loan(f.campaign(term_months=6), [(a, 200_00)], starts_at=NOW - timedelta(days=100))
    f.default(gone)
    p = services.portfolio(_owner(a), now=NOW)
    by_campaign = {h.campaign_id: h for h in p.holdings}
    arrears = by_campaign[late.campaign_id]
    assert arrears.status == "in_arrears"
    instalment_2 = next(i for i in late.instalments if i.number == 2)
    assert arrears.arrears == sum(allocate(instalment_2.principal, [500_00, 500_00])[:1]) + \
        allocate(instalment_2.interest, [500_00, 500_00])[0]
    defaulted = by_campaign[gone.campaign_id]
    assert defaulted.status == "defaulted" and defaulted.outstanding_principal == 200_00
    assert defaulted.expected == 0
    s = p.summary()
    assert (s.arrears_holdings, s.arrears_amount) == (1, arrears.arrears)
    assert (s.default_holdings, s.default_outstanding_principal) == (1, 200_00)
    assert s.expected == arrears.outstanding_principal + arrears.expected_interest
    assert s.outstanding_principal == arrears.outstanding_principal + 200_00


def test_only_a_defaulted_holding_has_no_xirr_and_says_so():
    a = f.investor()
    loan = f.fund_loan(f.campaign(term_months=6), [(a, 200_00)])
    f.default(loan)
    s = services.portfolio(_owner(a), now=NOW).summary()
    assert s.xirr.value is None and s.xirr.reason_code == "defaulted"
    assert "default" in str(s.xirr.reason)


def test_allocation_and_attributable_impact():
    a, b = f.investor(), f.investor()
    solar = f.campaign(category="renewable_energy", country="LV", risk_class="C", sdgs=[7, 13],
                       co2_tonnes_per_year=100.0, energy_mwh_per_year=1000.0)
    f.fund_loan(solar, [(a, 300_00), (b, 700_00)])
    water = f.campaign(category="water", country="EE", risk_class="A", sdgs=[6],
                       co2_tonnes_per_year=10.0, energy_mwh_per_year=0.0)
    f.fund_loan(water, [(a, 100_00)])
    p = services.portfolio(_owner(a), now=NOW)
    s = p.summary()
    assert [(x.key, x.amount, x.share_bps) for x in s.allocation["by_category"]] == [
        ("renewable_energy", 300_00, 7500), ("water", 100_00, 2500)]
    assert [(x.key, x.share_bps) for x in s.allocation["by_country"]] == [("LV", 7500), ("EE", 2500)]
    assert [(x.key, x.amount) for x in s.allocation["by_risk_class"]] == [("A", 100_00), ("C", 300_00)]
    assert [(x.key, x.amount, x.holdings) for x in s.allocation["by_sdg"]] == [
        ("6", 100_00, 1), ("7", 300_00, 1), ("13", 300_00, 1)]
    assert p.impact.co2_tonnes_per_year == pytest.approx(100.0 * 0.3 + 10.0)
    assert p.impact.energy_mwh_per_year == pytest.approx(300.0)


def test_currencies_are_reported_apart_never_added():
    a = f.investor(currency="RUB")
    f.fund_loan(f.campaign(currency="EUR"), [(a, 100_00)])
    f.fund_loan(f.campaign(currency="RUB", max_amount=10**9), [(a, 50_000_00)])
    p = services.portfolio(_owner(a), now=NOW)
    assert p.currency == "RUB"  # the profile's
    assert p.currencies == ["RUB", "EUR"]
    assert p.summary().invested == 50_000_00
    assert p.summary("EUR").invested == 100_00
    assert all(flow.amount < 10**7 for flow in p.summary("EUR").cash_flows)


def test_a_fund_portfolio_holds_what_any_of_its_managers_pledged():
    fund, (m1, m2) = f.fund(managers=2)
    citizen = f.investor()
    campaign = f.campaign()
    f.fund_loan(campaign, [(m1, 100_00, fund.id), (m2, 200_00, fund.id), (citizen, 300_00)])
    owner = services.own_owner(m2)
    assert (owner.kind, owner.id) == ("fund", fund.id)
    p = services.portfolio(owner, now=NOW)
    assert sorted(h.amount for h in p.holdings) == [100_00, 200_00]
    assert [h.amount for h in services.portfolio(_owner(citizen), now=NOW).holdings] == [300_00]


# --- who sees what ---------------------------------------------------------------------


def test_nobody_sees_another_ones_portfolio():
    from app.core.errors import NotFound

    a, b = f.investor(), f.investor()
    fund, (manager,) = f.fund()
    other_fund, (other_manager,) = f.fund(name="Other Fund")
    assert services.owner_for_viewer(a, "investor", a.id).id == a.id
    assert services.owner_for_viewer(manager, "fund", fund.id).id == fund.id
    for viewer, kind, owner_id in [(a, "investor", b.id), (manager, "fund", other_fund.id),
                                   (other_manager, "fund", fund.id), (a, "fund", fund.id),
                                   (manager, "investor", manager.id), (None, "investor", a.id)]:
        with pytest.raises(NotFound):
            services.owner_for_viewer(viewer, kind, owner_id)


# --- the queries do not grow with the holdings -----------------------------------------


def _count_queries(owner: PortfolioOwner) -> int:
    statements = []

    def count(*args) -> None:
        statements.append(args[2])

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        p = services.portfolio(owner, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert p.holdings
    return len(statements)


@pytest.mark.slow
def test_the_number_of_queries_is_the_same_for_50_and_5000_holdings():
    small_fund, (small_manager,) = f.fund(name="Small")
    large_fund, (large_manager,) = f.fund(name="Large")
    f.bulk_holdings(small_manager, 50, fund_id=small_fund.id)
    f.bulk_holdings(large_manager, 5000, fund_id=large_fund.id)
    small = services.own_owner(small_manager)
    large = services.own_owner(large_manager)
    assert len(services.portfolio(large, now=NOW).holdings) == 5000
    assert _count_queries(small) == _count_queries(large)
