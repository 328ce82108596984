"""One line of a bank statement, whatever the format it came in (camt.053 or 1C)."""

import re
from dataclasses import dataclass, field
from datetime import date

from app.banking.references import find_references
from app.core.errors import ValidationFailed
from app.core.i18n import _
from app.core.money import minor_digits

CREDIT = "CRDT"
DEBIT = "DBIT"

_AMOUNT = re.compile(r"(\d{1,18})(?:\.(\d{1,5}))?")
_CURRENCY = re.compile(r"[A-Z]{3}")
#: The largest amount a ledger row holds (BIGINT); anything above is a broken or hostile file.
MAX_MINOR = 2**63 - 1


@dataclass(frozen=True, slots=True)
class StatementEntry:
    """A booked (or pending) movement on our account.

    ``dedupe_key`` is what makes an import idempotent: the bank's own entry reference
    (camt ``AcctSvcrRef``), or for 1C ``Номер``+``Дата``+``Сумма``+payer account.
    ``amount`` is in minor units and never negative: ``credit_debit`` says which way.
    ``currency_expected`` is False when the caller said which currency it expected and
    the entry is in another one: reported, not refused; the caller decides.
    """

    dedupe_key: str
    bank_ref: str | None
    credit_debit: str
    amount: int
    currency: str
    booking_date: date | None
    value_date: date | None
    remittance: str
    structured_references: tuple[str, ...]
    end_to_end_id: str | None
    is_return: bool
    return_reason: str | None
    account: str | None
    account_currency: str | None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    status: str | None = None
    additional_info: str | None = None
    currency_expected: bool = True
    #: Every valid RF reference of the entry: the structured ones first, then those found in
    #: the free text, without repeats (empty when there is none). Worked out once, on creation.
    references: tuple[str, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        found: list[str] = []
        for text in (*self.structured_references, self.remittance, self.additional_info):
            for ref in find_references(text):
                if ref not in found:
                    found.append(ref)
        object.__setattr__(self, "references", tuple(found))

    @property
    def is_credit(self) -> bool:
        return self.credit_debit == CREDIT

    @property
    def is_debit(self) -> bool:
        return self.credit_debit == DEBIT


def file_error(detail: str) -> ValidationFailed:
    """A statement that cannot be read: a 422 naming ``file``."""
    return ValidationFailed(_("The statement file cannot be imported."), {"file": [detail]})


def parse_amount(text: str | None, currency: str, where: object) -> int:
    """A decimal string (``"1234.5"``) to exact minor units; exponents, signs, commas or
    more decimals than the currency has (``"12.345"`` EUR) are refused."""
    value = (text or "").strip()
    match = _AMOUNT.fullmatch(value)
    digits = minor_digits(currency)
    if match is None or len(match.group(2) or "") > digits:
        raise file_error(_("%(where)s: %(value)r is not an amount in %(currency)s.", where=where, value=value,
                           currency=currency))
    whole, fraction = match.group(1), (match.group(2) or "")
    minor = int(whole) * 10**digits + int(fraction.ljust(digits, "0") or 0)
    if minor > MAX_MINOR:
        raise file_error(_("%(where)s: %(value)r is larger than any account holds.", where=where, value=value))
    return minor


def check_currency(code: str | None, where: object) -> str:
    if not code or not _CURRENCY.fullmatch(code):
        raise file_error(_("%(where)s: %(value)r is not a currency code.", where=where, value=code))
    return code
