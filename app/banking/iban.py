"""IBAN and BIC: validated and normalised with schwifty, masked for display."""

from dataclasses import dataclass

from schwifty import BIC, IBAN
from schwifty import exceptions as sx

from app.core.errors import ValidationFailed
from app.core.i18n import _


@dataclass(frozen=True, slots=True)
class BankAccount:
    """A checked account: ``iban`` in electronic form (no spaces, upper case)."""

    iban: str
    bic: str | None = None

    @property
    def iban_masked(self) -> str:
        return mask_iban(self.iban)

    @property
    def iban_formatted(self) -> str:
        return format_iban(self.iban)


def _iban_problem(exc: sx.SchwiftyException) -> str:
    if isinstance(exc, sx.InvalidCountryCode):
        return _("The IBAN's country code is unknown.")
    if isinstance(exc, sx.InvalidLength):
        return _("The IBAN has the wrong length for its country.")
    if isinstance(exc, sx.InvalidChecksumDigits):
        return _("The IBAN's check digits are wrong (a typo?).")
    if isinstance(exc, sx.InvalidBBANChecksum):
        return _("The IBAN's national check digits are wrong (a typo?).")
    return _("The IBAN has characters or a structure its country does not allow.")


def normalize_iban(value: str) -> str:
    """The IBAN in electronic form, e.g. ``"ee38 2200 2210 2014 5685"`` → ``"EE382200221020145685"``.

    Spaces and lower case are accepted; a wrong checksum, length, structure or an unknown
    country is a ValidationFailed naming ``iban`` that says which.
    """
    text = "".join(str(value or "").split()).upper()
    if not text:
        raise ValidationFailed(_("The IBAN is invalid."), {"iban": [_("Enter an IBAN.")]})
    try:
        iban = IBAN(text)
    except sx.SchwiftyException as exc:
        raise ValidationFailed(_("The IBAN is invalid."), {"iban": [_iban_problem(exc)]}) from None
    return str(iban.compact)


def normalize_bic(value: str | None) -> str | None:
    """The BIC in upper case without spaces (8 or 11 characters), or None when not given."""
    text = "".join(str(value or "").split()).upper()
    if not text:
        return None
    try:
        bic = BIC(text)
    except sx.InvalidLength:
        problem = _("A BIC has 8 or 11 characters.")
    except sx.InvalidCountryCode:
        problem = _("The BIC's country code is unknown.")
    except sx.SchwiftyException:
        problem = _("The BIC has characters a BIC does not allow.")
    else:
        return str(bic.compact)
    raise ValidationFailed(_("The BIC is invalid."), {"bic": [problem]})


def validate_account(iban: str, bic: str | None = None) -> BankAccount:
    """Check both; the errors of both are reported together."""
    errors: dict[str, list[str]] = {}
    checked_iban = checked_bic = None
    try:
        checked_iban = normalize_iban(iban)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        checked_bic = normalize_bic(bic)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(_("The bank account is invalid."), errors)
    assert checked_iban is not None  # nosec B101  # narrows the type: no errors means the IBAN was parsed
    return BankAccount(checked_iban, checked_bic)


def format_iban(iban: str) -> str:
    """Groups of four for print, e.g. ``EE38 2200 2210 2014 5685``."""
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def mask_iban(iban: str) -> str:
    """Country, check digits and the last four shown, the rest as ``*`` in groups of four
    (the last four always a group of their own): ``EE382200221020145685`` →
    ``EE38 **** **** **** 5685``, ``DE89370400440532013000`` → ``DE89 **** **** **** ** 3000``."""
    compact = "".join(iban.split()).upper()
    if len(compact) <= 8:
        return format_iban(compact)
    middle = "*" * (len(compact) - 8)
    groups = [compact[:4], *(middle[i : i + 4] for i in range(0, len(middle), 4)), compact[-4:]]
    return " ".join(groups)
