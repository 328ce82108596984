"""The investor limits engine: pure functions over data tables, one table per jurisdiction.

Nothing here touches the database, the request or the clock: the caller passes the
investor's facts, the pledge, the instant and what it has already counted. A new
jurisdiction is a new ``JurisdictionProfile`` row in ``JURISDICTIONS``, not new code.

EU (Regulation (EU) 2020/1503, Art. 21(7)): a pledge by a non-sophisticated investor
above the higher of EUR 1,000 or 5 % of net worth needs an explicit risk
acknowledgement. RU (259-FZ, Art. 7): a non-qualified natural person invests at most
RUB 600,000 per calendar year across all platforms. Funds (legal entities), sophisticated
and qualified investors have no retail limits.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import StrEnum

from app.core.errors import ValidationFailed
from app.core.money import format_money

#: ECSP Art. 21(7) and Del. Reg. 2022/2114 Art. 4: shown until acknowledged, verbatim.
RISK_WARNING = "An investment in a crowdfunding project includes the risk of losing the entirety of the money invested."

#: Moscow has kept UTC+3 all year since 2014; a fixed offset needs no tz database.
MOSCOW = timezone(timedelta(hours=3), "MSK")


class InvestorKind(StrEnum):
    NATURAL = "natural"
    FUND = "fund"


class Classification(StrEnum):
    NON_SOPHISTICATED = "non_sophisticated"
    SOPHISTICATED = "sophisticated"
    NON_QUALIFIED = "non_qualified"
    QUALIFIED = "qualified"


class Step(StrEnum):
    """What an investor completes before a first pledge (the readiness checklist)."""

    PROFILE = "profile"
    IDENTITY = "identity"
    KNOWLEDGE_TEST = "knowledge_test"
    LOSS_SIMULATION = "loss_simulation"
    RISK_ACKNOWLEDGEMENT = "risk_acknowledgement"


@dataclass(frozen=True)
class JurisdictionProfile:
    """One deployment's investor rules, as data. Amounts are minor units of ``currency``."""

    code: str
    #: The currency limits are set in; declarations and checked pledges use it (no FX here).
    currency: str
    #: Where the calendar year of an annual limit starts and ends.
    timezone: tzinfo
    default_classification: Classification
    #: Classifications that carry no retail limits (plus every fund).
    professional: frozenset[Classification]
    #: Every classification valid in this jurisdiction.
    classifications: frozenset[Classification]
    #: Per-pledge warning threshold: max(floor, net worth × bps / 10 000); None = no warning rule.
    warning_floor: int | None = None
    warning_net_worth_bps: int | None = None
    #: Calendar-year cap across platforms for retail investors; None = no cap.
    annual_cap: int | None = None
    #: Ability to bear loss shown in the simulation: net worth × bps / 10 000.
    loss_capacity_bps: int = 1000
    #: Entry knowledge test validity, in years.
    test_valid_years: int = 2
    #: Steps before a first pledge, for retail and for professional natural persons.
    retail_steps: tuple[Step, ...] = ()
    professional_steps: tuple[Step, ...] = (Step.PROFILE, Step.IDENTITY)
    #: Criteria an investor may declare when asking to be treated as professional,
    #: and how many of them are needed.
    criteria: tuple[str, ...] = ()
    min_criteria: int = 1
    legal_basis: str = ""
    #: A professional classification lapses this many years after the decision unless the
    #: operator reviews it again (ECSP Annex II: sophisticated status reviewed every 2 years).
    professional_review_years: int | None = None


EU = JurisdictionProfile(
    code="EU",
    currency="EUR",
    timezone=UTC,
    default_classification=Classification.NON_SOPHISTICATED,
    professional=frozenset({Classification.SOPHISTICATED}),
    classifications=frozenset({Classification.NON_SOPHISTICATED, Classification.SOPHISTICATED}),
    warning_floor=1_000_00,
    warning_net_worth_bps=500,
    retail_steps=(Step.PROFILE, Step.IDENTITY, Step.KNOWLEDGE_TEST, Step.LOSS_SIMULATION),
    # Annex II, natural persons: at least two of these.
    criteria=("income_or_portfolio", "financial_sector_experience", "significant_transactions"),
    min_criteria=2,
    legal_basis="Regulation (EU) 2020/1503",
    professional_review_years=2,
)

RU = JurisdictionProfile(
    code="RU",
    currency="RUB",
    timezone=MOSCOW,
    default_classification=Classification.NON_QUALIFIED,
    professional=frozenset({Classification.QUALIFIED}),
    classifications=frozenset({Classification.NON_QUALIFIED, Classification.QUALIFIED}),
    annual_cap=600_000_00,
    retail_steps=(Step.PROFILE, Step.IDENTITY, Step.RISK_ACKNOWLEDGEMENT),
    # Qualified investor status is recognised by a broker, bank or management company.
    criteria=("qualified_status_recognised",),
    min_criteria=1,
    legal_basis="Federal Law 259-FZ",
)

JURISDICTIONS: dict[str, JurisdictionProfile] = {p.code: p for p in (EU, RU)}


def jurisdiction(code: "str | JurisdictionProfile") -> JurisdictionProfile:
    """The profile for a code such as ``"EU"``; a profile passes through."""
    if isinstance(code, JurisdictionProfile):
        return code
    try:
        return JURISDICTIONS[code.upper()]
    except KeyError:
        raise ValueError(f"Unknown jurisdiction {code!r}; known: {', '.join(JURISDICTIONS)}") from None


@dataclass(frozen=True)
class InvestorFacts:
    """What the engine needs to know about the investor (the service builds it from the profile).

    ``other_platforms_amount`` is the declaration of amounts invested elsewhere during
    the calendar year ``other_platforms_year``; it stops counting when that year ends.
    """

    kind: InvestorKind
    classification: Classification | None
    currency: str
    net_worth: int | None = None
    other_platforms_amount: int = 0
    other_platforms_year: int | None = None


class Outcome(StrEnum):
    ALLOWED = "allowed"
    NEEDS_ACKNOWLEDGEMENT = "needs_acknowledgement"
    OVER_ANNUAL_LIMIT = "over_annual_limit"
    WRONG_CURRENCY = "wrong_currency"
    INVALID_AMOUNT = "invalid_amount"


@dataclass(frozen=True)
class LimitDecision:
    """The engine's answer. ``allowed`` is False for every outcome but ALLOWED.

    ``threshold`` is the EU warning threshold, ``limit`` the annual cap, ``headroom`` what
    is left of it before this pledge; all in minor units of ``currency``.
    """

    outcome: Outcome
    currency: str
    amount: int
    threshold: int | None = None
    limit: int | None = None
    headroom: int | None = None
    #: The warning to show when the pledge is above the threshold (acknowledged or not).
    warning: str | None = None
    #: The currency limits are checked in, when the pledge was in another one.
    expected_currency: str | None = None
    #: The investor's earlier live pledges to the same offer, counted toward the threshold.
    in_offer: int = 0

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED

    @property
    def field(self) -> str:
        """The input field a refusal belongs to (API error key, HTML form field)."""
        return "acknowledge_risk" if self.outcome is Outcome.NEEDS_ACKNOWLEDGEMENT else "amount"

    def message(self, locale: str | None = None) -> str:
        """A sentence for people naming the threshold, limit and headroom that apply.

        Translated into the request's language inside a request, English outside one.
        """
        _ = _translator()
        locale = locale or _request_locale()

        def money(value: int | None) -> str:
            return format_money(value or 0, self.currency, locale)

        match self.outcome:
            case Outcome.ALLOWED:
                return _("The pledge is within your limits.")
            case Outcome.NEEDS_ACKNOWLEDGEMENT if self.in_offer:
                return _(
                    "With your earlier pledges of %(earlier)s to this offer, this one brings your total above "
                    "%(threshold)s, the higher of EUR 1,000 or 5 %% of your net worth. Confirm that you "
                    "understand the risk to go ahead: %(warning)s",
                    earlier=money(self.in_offer), threshold=money(self.threshold), warning=_(RISK_WARNING),
                )
            case Outcome.NEEDS_ACKNOWLEDGEMENT:
                return _(
                    "This pledge is above %(threshold)s, the higher of EUR 1,000 or 5 %% of your net worth. "
                    "Confirm that you understand the risk to go ahead: %(warning)s",
                    threshold=money(self.threshold),
                    warning=_(RISK_WARNING),
                )
            case Outcome.OVER_ANNUAL_LIMIT:
                return _(
                    "This pledge exceeds the annual limit of %(limit)s for non-qualified investors across "
                    "all platforms; you have %(headroom)s left this calendar year.",
                    limit=money(self.limit),
                    headroom=money(self.headroom),
                )
            case Outcome.WRONG_CURRENCY:
                return _("Limits are checked in %(expected)s; this pledge is in %(actual)s.",
                         expected=self.expected_currency, actual=self.currency)
            case _:
                return _("The amount must be a positive whole number of minor units.")

    def raise_if_refused(self, locale: str | None = None) -> None:
        """Raise ``ValidationFailed`` (422) with the message on the right field unless allowed."""
        if not self.allowed:
            text = self.message(locale)
            raise ValidationFailed(text, {self.field: [text]})


def _translator():
    """The services' translator (gettext in a request, plain %-formatting elsewhere)."""
    from app.core.i18n import _

    return _


def _request_locale() -> str:
    from flask import has_request_context

    if has_request_context():
        from flask_babel import get_locale

        return str(get_locale() or "en")
    return "en"


def calendar_year(now: datetime, profile: "str | JurisdictionProfile") -> int:
    """The calendar year ``now`` falls in, on the jurisdiction's clock."""
    return now.astimezone(jurisdiction(profile).timezone).year


def year_bounds(year: int, profile: "str | JurisdictionProfile") -> tuple[datetime, datetime]:
    """``[start, end)`` of a calendar year on the jurisdiction's clock, in UTC.

    The pledge service sums its own pledges with ``created_at`` in this range.
    """
    tz = jurisdiction(profile).timezone
    start = datetime(year, 1, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=tz).astimezone(UTC)
    return start, end


def pledged_in_year(pledges: Iterable[tuple[datetime, int]], now: datetime,
                    profile: "str | JurisdictionProfile") -> int:
    """Sum the ``(at, amount)`` pairs that fall in the calendar year of ``now``."""
    start, end = year_bounds(calendar_year(now, profile), profile)
    return sum(amount for at, amount in pledges if start <= at < end)


def warning_threshold(net_worth: int | None, profile: "str | JurisdictionProfile") -> int | None:
    """The EU-style per-pledge threshold: max(floor, bps of net worth), rounded down."""
    p = jurisdiction(profile)
    if p.warning_floor is None:
        return None
    share = max(0, net_worth or 0) * (p.warning_net_worth_bps or 0) // 10_000
    return max(p.warning_floor, share)


def loss_capacity(net_worth: int | None, profile: "str | JurisdictionProfile") -> int:
    """The simulated ability to bear loss: 10 % of net worth (rounded down, never negative)."""
    return max(0, net_worth or 0) * jurisdiction(profile).loss_capacity_bps // 10_000


def net_worth(annual_income: int, liquid_assets: int, annual_commitments: int) -> int:
    """ECSP Art. 21(5): net annual income + liquid assets − annual financial commitments, at least 0."""
    return max(0, annual_income + liquid_assets - annual_commitments)


def is_professional(facts: InvestorFacts, profile: "str | JurisdictionProfile") -> bool:
    """Funds and professional classifications carry no retail limits."""
    return facts.kind is InvestorKind.FUND or facts.classification in jurisdiction(profile).professional


def annual_cap_applies(facts: InvestorFacts, profile: "str | JurisdictionProfile") -> bool:
    """Whether this investor's pledges count against a yearly cap (RU non-qualified individuals)."""
    return jurisdiction(profile).annual_cap is not None and not is_professional(facts, profile)


def annual_headroom(facts: InvestorFacts, now: datetime, already_pledged_this_year: int,
                    profile: "str | JurisdictionProfile") -> int | None:
    """What a retail investor may still pledge this calendar year; None when uncapped."""
    p = jurisdiction(profile)
    if not annual_cap_applies(facts, p):
        return None
    other = facts.other_platforms_amount if facts.other_platforms_year == calendar_year(now, p) else 0
    return max(0, p.annual_cap - already_pledged_this_year - other)


def required_steps(facts: InvestorFacts, profile: "str | JurisdictionProfile") -> tuple[Step, ...]:
    """The readiness steps for this investor; a fund has none."""
    p = jurisdiction(profile)
    if facts.kind is InvestorKind.FUND:
        return ()
    return p.professional_steps if is_professional(facts, p) else p.retail_steps


def check_pledge(
    facts: InvestorFacts,
    amount: int,
    currency: str,
    now: datetime,
    *,
    acknowledged: bool = False,
    already_pledged_this_year: int = 0,
    already_in_offer: int = 0,
    profile: "str | JurisdictionProfile" = "EU",
) -> LimitDecision:
    """Decide whether one pledge passes the investor limits.

    :param already_pledged_this_year: this platform's live pledges by the investor with
        ``created_at`` in ``year_bounds(calendar_year(now))`` (not revoked, refunded or
        failed), in ``currency``. The investor's declaration for other platforms is in
        ``facts`` and is added here.
    :param already_in_offer: the investor's live pledges to the same offer: the warning
        threshold (ECSP Art. 21(7)) applies to the total there, not to each pledge.
    :param acknowledged: the investor ticked the risk warning (API ``acknowledge_risk``).
    """
    p = jurisdiction(profile)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return LimitDecision(Outcome.INVALID_AMOUNT, currency, amount if isinstance(amount, int) else 0)
    if is_professional(facts, p):
        return LimitDecision(Outcome.ALLOWED, currency, amount)
    if currency != p.currency:
        return LimitDecision(Outcome.WRONG_CURRENCY, currency, amount, expected_currency=p.currency)
    headroom = annual_headroom(facts, now, already_pledged_this_year, p)
    if headroom is not None and amount > headroom:
        return LimitDecision(Outcome.OVER_ANNUAL_LIMIT, currency, amount, limit=p.annual_cap, headroom=headroom)
    threshold = warning_threshold(facts.net_worth, p)
    if threshold is not None and amount + already_in_offer > threshold:
        if not acknowledged:
            return LimitDecision(Outcome.NEEDS_ACKNOWLEDGEMENT, currency, amount, threshold=threshold,
                                 warning=RISK_WARNING, in_offer=already_in_offer)
        return LimitDecision(Outcome.ALLOWED, currency, amount, threshold=threshold, limit=p.annual_cap,
                             headroom=headroom, warning=RISK_WARNING)
    return LimitDecision(Outcome.ALLOWED, currency, amount, threshold=threshold, limit=p.annual_cap,
                         headroom=headroom)
