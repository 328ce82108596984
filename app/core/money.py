"""Money as integer minor units plus an ISO 4217 currency — never floats."""

import re
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision

#: Currencies the platform accepts: the euro area and the Baltic Sea neighbours.
SUPPORTED_CURRENCIES = ("EUR", "RUB", "SEK", "DKK", "PLN", "NOK")


def minor_digits(currency: str) -> int:
    """How many minor-unit digits the currency has (2 for EUR, 2 for RUB)."""
    return get_currency_precision(currency)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of one currency; arithmetic refuses mixed currencies."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money amounts are integers in minor units")
        if self.currency not in SUPPORTED_CURRENCIES:
            raise ValueError(f"Unsupported currency {self.currency!r}")

    def _same(self, other: "Money") -> None:
        if other.currency != self.currency:
            raise ValueError(f"Cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-minor_digits(self.currency))

    def format(self, locale: str = "en") -> str:
        return format_money(self.amount, self.currency, locale)


def format_money(amount: int, currency: str, locale: str = "en") -> str:
    """Format minor units for people, e.g. 123456 EUR → '€1,234.56' or '1 234,56 €'."""
    value = Decimal(amount).scaleb(-minor_digits(currency))
    return format_currency(value, currency, locale=locale)


_TYPED_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,4})?")


def parse_typed(text: str, currency: str) -> int:
    """An amount typed in a form ("1 234,50", "100") to minor units. Only ASCII digits with
    one decimal point or comma: exponents, infinities, signs and other scripts' digits are
    refused with ValueError, like more decimals than the currency has."""
    compact = (text or "").strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not _TYPED_AMOUNT.fullmatch(compact):
        raise ValueError(f"{text!r} is not an amount")
    return to_minor(compact, currency)


def to_minor(value: Decimal | str | int, currency: str) -> int:
    """Convert a major-unit decimal (as typed in a form) to exact minor units.

    Raises ValueError when the value has more decimals than the currency allows,
    rather than rounding someone's money silently.
    """
    digits = minor_digits(currency)
    scaled = Decimal(str(value)).scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{currency} amounts have at most {digits} decimals")
    return int(scaled)


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` by largest remainder.

    The shares always add up to ``total`` exactly; ties go to the earlier weight so
    the result is deterministic.
    """
    if total < 0:
        raise ValueError("allocate() splits non-negative totals")
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("allocate() needs a positive weight sum")
    shares = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    short = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:short]:
        shares[i] += 1
    return shares
