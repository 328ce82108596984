"""The raiser's legal entity: registration numbers checked with ``python-stdnum`` where it
knows the country's register, so that one company cannot pass the offer cap by opening a
second account, and a mistyped number is caught when it is typed.

Russia (259-FZ Art. 2, 13): the raiser is a legal entity or a sole proprietor, identified by
its ИНН: 10 digits for an organisation, 12 for an individual entrepreneur."""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from stdnum import exceptions as stdnum_errors
from stdnum.dk import cvr
from stdnum.ee import registrikood
from stdnum.fi import ytunnus
from stdnum.lv import pvn
from stdnum.no import orgnr as no_orgnr
from stdnum.pl import regon
from stdnum.ru import inn
from stdnum.se import orgnr as se_orgnr

COMPANY = "company"
SOLE_PROPRIETOR = "sole_proprietor"
LEGAL_FORMS = (COMPANY, SOLE_PROPRIETOR)


@dataclass(frozen=True)
class Register:
    name: str
    example: str
    validate: Callable[[str], str]


#: Registers python-stdnum checks (check digits and length); elsewhere a number is kept as typed.
REGISTERS: dict[str, Register] = {
    "DK": Register("CVR-nummer", "13585628", cvr.validate),
    "EE": Register("registrikood", "10137319", registrikood.validate),
    "FI": Register("Y-tunnus", "2077474-0", ytunnus.validate),
    "LV": Register("reģistrācijas numurs", "40003009497", pvn.validate),
    "NO": Register("organisasjonsnummer", "988077917", no_orgnr.validate),
    "PL": Register("REGON", "192598184", regon.validate),
    "RU": Register("ИНН", "7707083893", inn.validate),
    "SE": Register("organisationsnummer", "1234567897", se_orgnr.validate),
}


def normalise(country: str, number: str, legal_form: str) -> str:
    """The number in its register's compact form; ValueError with a sentence for the owner."""
    register = REGISTERS.get(country)
    if register is None:
        # One spelling per number, so "HRB 123", "HRB-123" and "ＨＲＢ１２３" are one entity.
        folded = unicodedata.normalize("NFKC", number).upper()
        compact = "".join(ch for ch in folded if ch not in " -./")
        if not 2 <= len(compact) <= 40 or not (compact.isascii() and compact.isalnum()):
            raise ValueError("Give the registration number as the register shows it "
                             "(2 to 40 Latin letters and digits; spaces, dashes, dots and slashes are ignored).")
        return compact
    try:
        compact = register.validate(number)
    except stdnum_errors.ValidationError as exc:
        raise ValueError(f"Not a valid {register.name} (e.g. {register.example}): "
                         f"{str(exc).rstrip('.').lower()}.") from exc
    if country == "RU":
        expected = 10 if legal_form == COMPANY else 12
        if len(compact) != expected:
            kind = "an organisation's" if legal_form == COMPANY else "a sole proprietor's"
            raise ValueError(f"{kind.capitalize()} ИНН has {expected} digits.")
    return compact
