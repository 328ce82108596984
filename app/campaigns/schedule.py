"""Loan repayment schedules in exact minor units."""

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal


@dataclass(frozen=True)
class Instalment:
    number: int
    principal: int  # minor units
    interest: int  # minor units

    @property
    def total(self) -> int:
        return self.principal + self.interest


def instalments(principal: int, rate_bps: int, term_months: int, kind: str) -> list[Instalment]:
    """Monthly instalments of an annuity or bullet loan.

    Interest is charged monthly on the outstanding balance (rate / 12) and rounded half
    to even per instalment; the last instalment absorbs the rounding so the principal
    parts add up to ``principal`` exactly.
    """
    if principal <= 0 or term_months <= 0:
        raise ValueError("principal and term must be positive")
    monthly = Decimal(rate_bps) / Decimal(10_000) / 12
    balance = principal
    result: list[Instalment] = []
    if kind == "annuity":
        if monthly == 0:
            payment = Decimal(principal) / term_months
        else:
            payment = Decimal(principal) * monthly / (1 - (1 + monthly) ** -term_months)
        payment_minor = int(payment.quantize(Decimal(1), ROUND_HALF_EVEN))
        for n in range(1, term_months + 1):
            interest = int((balance * monthly).quantize(Decimal(1), ROUND_HALF_EVEN))
            part = balance if n == term_months else min(balance, payment_minor - interest)
            result.append(Instalment(n, part, interest))
            balance -= part
    elif kind == "bullet":
        for n in range(1, term_months + 1):
            interest = int((balance * monthly).quantize(Decimal(1), ROUND_HALF_EVEN))
            result.append(Instalment(n, principal if n == term_months else 0, interest))
    else:
        raise ValueError(f"unknown repayment kind {kind!r}")
    return result
