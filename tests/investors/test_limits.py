"""The limits engine, table by table: EU warning threshold, RU annual cap, professionals."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core.errors import ValidationFailed
from app.core.money import format_money
from app.investors import limits
from app.investors.limits import (
    RU,
    Classification,
    InvestorFacts,
    InvestorKind,
    JurisdictionProfile,
    Outcome,
    Step,
    check_pledge,
)

JUNE = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def person(classification: Classification, net_worth: int | None = None, currency: str = "EUR",
           other: int = 0, other_year: int | None = None) -> InvestorFacts:
    return InvestorFacts(InvestorKind.NATURAL, classification, currency, net_worth, other, other_year)


EU_RETAIL = Classification.NON_SOPHISTICATED
RU_RETAIL = Classification.NON_QUALIFIED
FUND = InvestorFacts(InvestorKind.FUND, None, "EUR")

# (facts, amount, currency, acknowledged, outcome, threshold)
EU_TABLE = [
    # net worth EUR 10,000: 5 % = EUR 500, so the EUR 1,000 floor applies
    (person(EU_RETAIL, 10_000_00), 1_000_00, "EUR", False, Outcome.ALLOWED, 1_000_00),
    (person(EU_RETAIL, 10_000_00), 1_000_01, "EUR", False, Outcome.NEEDS_ACKNOWLEDGEMENT, 1_000_00),
    (person(EU_RETAIL, 10_000_00), 1_000_01, "EUR", True, Outcome.ALLOWED, 1_000_00),
    (person(EU_RETAIL, 10_000_00), 1, "EUR", False, Outcome.ALLOWED, 1_000_00),
    # net worth EUR 100,000: 5 % = EUR 5,000 beats the floor
    (person(EU_RETAIL, 100_000_00), 5_000_00, "EUR", False, Outcome.ALLOWED, 5_000_00),
    (person(EU_RETAIL, 100_000_00), 5_000_01, "EUR", False, Outcome.NEEDS_ACKNOWLEDGEMENT, 5_000_00),
    (person(EU_RETAIL, 100_000_00), 5_000_01, "EUR", True, Outcome.ALLOWED, 5_000_00),
    # exactly where 5 % equals the floor (EUR 20,000), and 5 % rounded down
    (person(EU_RETAIL, 20_000_00), 1_000_00, "EUR", False, Outcome.ALLOWED, 1_000_00),
    (person(EU_RETAIL, 20_000_00), 1_000_01, "EUR", False, Outcome.NEEDS_ACKNOWLEDGEMENT, 1_000_00),
    (person(EU_RETAIL, 30_000_19), 1_500_00, "EUR", False, Outcome.ALLOWED, 1_500_00),
    (person(EU_RETAIL, 30_000_19), 1_500_01, "EUR", False, Outcome.NEEDS_ACKNOWLEDGEMENT, 1_500_00),
    # no net worth declared, or none at all: the floor
    (person(EU_RETAIL, None), 1_000_01, "EUR", False, Outcome.NEEDS_ACKNOWLEDGEMENT, 1_000_00),
    (person(EU_RETAIL, 0), 1_000_00, "EUR", False, Outcome.ALLOWED, 1_000_00),
    # sophisticated investors and funds: no retail limits
    (person(Classification.SOPHISTICATED, 10_000_00), 1_000_000_00, "EUR", False, Outcome.ALLOWED, None),
    (FUND, 5_000_000_00, "EUR", False, Outcome.ALLOWED, None),
    (FUND, 5_000_000_00, "RUB", False, Outcome.ALLOWED, None),
    # wrong currency and nonsense amounts
    (person(EU_RETAIL, 10_000_00), 1_000_00, "RUB", False, Outcome.WRONG_CURRENCY, None),
    (person(EU_RETAIL, 10_000_00), 0, "EUR", False, Outcome.INVALID_AMOUNT, None),
    (person(EU_RETAIL, 10_000_00), -1, "EUR", True, Outcome.INVALID_AMOUNT, None),
    (person(EU_RETAIL, 10_000_00), True, "EUR", True, Outcome.INVALID_AMOUNT, None),
]


@pytest.mark.parametrize(("facts", "amount", "currency", "acknowledged", "outcome", "threshold"), EU_TABLE)
def test_eu_table(facts, amount, currency, acknowledged, outcome, threshold):
    decision = check_pledge(facts, amount, currency, JUNE, acknowledged=acknowledged, profile="EU")
    assert decision.outcome is outcome
    assert decision.allowed is (outcome is Outcome.ALLOWED)
    if threshold is not None:
        assert decision.threshold == threshold


def test_eu_refusal_names_the_threshold_and_asks_for_acknowledgement():
    decision = check_pledge(person(EU_RETAIL, 100_000_00), 5_000_01, "EUR", JUNE, profile="EU")
    assert decision.field == "acknowledge_risk"
    assert format_money(5_000_00, "EUR") in decision.message()
    assert limits.RISK_WARNING in decision.message()
    with pytest.raises(ValidationFailed) as caught:
        decision.raise_if_refused()
    assert caught.value.status == 422
    assert "€5,000.00" in caught.value.errors["acknowledge_risk"][0]


def test_acknowledged_pledge_above_threshold_still_carries_the_warning():
    decision = check_pledge(person(EU_RETAIL, 10_000_00), 2_000_00, "EUR", JUNE, acknowledged=True, profile="EU")
    assert decision.allowed and decision.warning == limits.RISK_WARNING
    decision.raise_if_refused()  # no exception


CAP = 600_000_00
# (facts, already pledged here, amount, outcome, headroom before the pledge)
RU_TABLE = [
    (person(RU_RETAIL, currency="RUB"), 0, CAP, Outcome.ALLOWED, CAP),
    (person(RU_RETAIL, currency="RUB"), 0, CAP + 1, Outcome.OVER_ANNUAL_LIMIT, CAP),
    (person(RU_RETAIL, currency="RUB"), 500_000_00, 100_000_00, Outcome.ALLOWED, 100_000_00),
    (person(RU_RETAIL, currency="RUB"), 500_000_00, 100_000_01, Outcome.OVER_ANNUAL_LIMIT, 100_000_00),
    # declared other platforms this year count
    (person(RU_RETAIL, currency="RUB", other=50_000_00, other_year=2026), 500_000_00, 50_000_00,
     Outcome.ALLOWED, 50_000_00),
    (person(RU_RETAIL, currency="RUB", other=50_000_00, other_year=2026), 500_000_00, 50_000_01,
     Outcome.OVER_ANNUAL_LIMIT, 50_000_00),
    # ... but a declaration for last year does not
    (person(RU_RETAIL, currency="RUB", other=50_000_00, other_year=2025), 500_000_00, 100_000_00,
     Outcome.ALLOWED, 100_000_00),
    # already over the cap (e.g. a larger declaration): headroom is zero, not negative
    (person(RU_RETAIL, currency="RUB", other=700_000_00, other_year=2026), 0, 1, Outcome.OVER_ANNUAL_LIMIT, 0),
    # no EU-style warning in the RU profile: a large pledge within the cap needs no acknowledgement
    (person(RU_RETAIL, 1_000_00, currency="RUB"), 0, 300_000_00, Outcome.ALLOWED, CAP),
    # qualified investors and funds: no cap
    (person(Classification.QUALIFIED, currency="RUB"), CAP, 10_000_000_00, Outcome.ALLOWED, None),
    (InvestorFacts(InvestorKind.FUND, None, "RUB"), CAP, 10_000_000_00, Outcome.ALLOWED, None),
    # wrong currency for a retail investor
    (person(RU_RETAIL, currency="RUB"), 0, 1_000_00, Outcome.WRONG_CURRENCY, None),
]


@pytest.mark.parametrize(("facts", "already", "amount", "outcome", "headroom"), RU_TABLE)
def test_ru_table(facts, already, amount, outcome, headroom):
    currency = "EUR" if outcome is Outcome.WRONG_CURRENCY else "RUB"
    decision = check_pledge(facts, amount, currency, JUNE, already_pledged_this_year=already, profile="RU")
    assert decision.outcome is outcome
    if outcome is Outcome.OVER_ANNUAL_LIMIT:
        assert decision.headroom == headroom and decision.limit == CAP
    elif outcome is Outcome.ALLOWED:
        assert decision.headroom == headroom


def test_ru_refusal_names_the_limit_and_the_headroom():
    decision = check_pledge(person(RU_RETAIL, currency="RUB"), 100_000_01, "RUB", JUNE,
                            already_pledged_this_year=500_000_00, profile="RU")
    message = decision.message()
    assert format_money(CAP, "RUB") in message and format_money(100_000_00, "RUB") in message
    with pytest.raises(ValidationFailed) as caught:
        decision.raise_if_refused()
    assert list(caught.value.errors) == ["amount"]


# Moscow is UTC+3: 21:00 UTC on 31 December is already 1 January there.
LAST_MOMENT_2026 = datetime(2026, 12, 31, 20, 59, 59, tzinfo=UTC)
FIRST_MOMENT_2027 = datetime(2026, 12, 31, 21, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "year", "counts_2026_declaration"),
    [
        (LAST_MOMENT_2026, 2026, True),
        (FIRST_MOMENT_2027, 2027, False),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), 2027, False),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), 2026, True),
        (datetime(2025, 12, 31, 20, 59, 59, tzinfo=UTC), 2025, False),
    ],
)
def test_ru_calendar_year_turns_at_moscow_midnight(now, year, counts_2026_declaration):
    assert limits.calendar_year(now, "RU") == year
    facts = person(RU_RETAIL, currency="RUB", other=CAP, other_year=2026)
    decision = check_pledge(facts, 1, "RUB", now, profile="RU")
    assert decision.allowed is not counts_2026_declaration


def test_year_bounds_and_pledges_counted_across_new_year():
    start, end = limits.year_bounds(2027, "RU")
    assert start == FIRST_MOMENT_2027
    assert end == datetime(2027, 12, 31, 21, 0, tzinfo=UTC)
    assert limits.year_bounds(2027, "EU") == (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
    pledges = [(LAST_MOMENT_2026, 400_000_00), (FIRST_MOMENT_2027, 100_000_00)]
    assert limits.pledged_in_year(pledges, LAST_MOMENT_2026, "RU") == 400_000_00
    assert limits.pledged_in_year(pledges, FIRST_MOMENT_2027, "RU") == 100_000_00
    # Across the boundary the cap starts afresh: what was pledged on 31 December no longer counts.
    facts = person(RU_RETAIL, currency="RUB")
    late = check_pledge(facts, 200_000_01, "RUB", LAST_MOMENT_2026, profile="RU",
                        already_pledged_this_year=limits.pledged_in_year(pledges, LAST_MOMENT_2026, "RU"))
    early = check_pledge(facts, 500_000_00, "RUB", FIRST_MOMENT_2027, profile="RU",
                         already_pledged_this_year=limits.pledged_in_year(pledges, FIRST_MOMENT_2027, "RU"))
    assert late.outcome is Outcome.OVER_ANNUAL_LIMIT and late.headroom == 200_000_00
    assert early.allowed and early.headroom == 500_000_00


def test_eu_warning_does_not_depend_on_the_year():
    facts = person(EU_RETAIL, 10_000_00)
    for now in (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)):
        assert check_pledge(facts, 1_000_01, "EUR", now, profile="EU").outcome is Outcome.NEEDS_ACKNOWLEDGEMENT


@pytest.mark.parametrize(
    ("income", "liquid", "commitments", "net_worth", "capacity"),
    [
        (42_000_00, 25_000_00, 9_000_00, 58_000_00, 5_800_00),
        (0, 0, 0, 0, 0),
        (10_000_00, 0, 30_000_00, 0, 0),  # commitments beyond income and assets: no capacity, never negative
        (1_00, 0, 0, 1_00, 10),
        (99, 0, 0, 99, 9),  # 10 % rounded down
    ],
)
def test_net_worth_and_loss_capacity(income, liquid, commitments, net_worth, capacity):
    assert limits.net_worth(income, liquid, commitments) == net_worth
    assert limits.loss_capacity(net_worth, "EU") == capacity


@pytest.mark.parametrize(
    ("facts", "code", "steps"),
    [
        (person(EU_RETAIL), "EU", (Step.PROFILE, Step.IDENTITY, Step.KNOWLEDGE_TEST, Step.LOSS_SIMULATION)),
        (person(Classification.SOPHISTICATED), "EU", (Step.PROFILE, Step.IDENTITY)),
        (person(RU_RETAIL, currency="RUB"), "RU", (Step.PROFILE, Step.IDENTITY, Step.RISK_ACKNOWLEDGEMENT)),
        (person(Classification.QUALIFIED, currency="RUB"), "RU", (Step.PROFILE, Step.IDENTITY)),
        (FUND, "EU", ()),
        (FUND, "RU", ()),
    ],
)
def test_required_steps(facts, code, steps):
    assert limits.required_steps(facts, code) == steps


def test_a_new_jurisdiction_is_a_new_table():
    both = JurisdictionProfile(
        code="XX", currency="RUB", timezone=RU.timezone, default_classification=RU_RETAIL,
        professional=frozenset({Classification.QUALIFIED}), classifications=RU.classifications,
        warning_floor=10_000_00, warning_net_worth_bps=1000, annual_cap=50_000_00,
    )
    facts = person(RU_RETAIL, 200_000_00, currency="RUB")
    assert check_pledge(facts, 20_000_00, "RUB", JUNE, profile=both).allowed
    assert check_pledge(facts, 20_000_01, "RUB", JUNE, profile=both).outcome is Outcome.NEEDS_ACKNOWLEDGEMENT
    assert check_pledge(facts, 50_000_01, "RUB", JUNE, acknowledged=True, profile=both).outcome \
        is Outcome.OVER_ANNUAL_LIMIT
    assert check_pledge(facts, 50_000_00, "RUB", JUNE, acknowledged=True, profile=both).allowed


def test_unknown_jurisdiction_is_refused():
    with pytest.raises(ValueError, match="Unknown jurisdiction"):
        limits.jurisdiction("XX")


def test_the_engine_is_pure():
    facts = person(EU_RETAIL, 10_000_00)
    first = check_pledge(facts, 1_000_01, "EUR", JUNE, profile="EU")
    assert first == check_pledge(facts, 1_000_01, "EUR", JUNE + timedelta(days=400), profile="EU")
