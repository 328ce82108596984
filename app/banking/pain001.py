"""Outgoing SEPA credit transfers: one ISO 20022 ``pain.001.001.03`` file for a batch of
payments, built with sepaxml (``SepaTransfer``) and validated against the XSD that
sepaxml ships before it is handed back.

One transaction per payment, each carrying its end-to-end id, so the bank statement that
later books (or returns) it can be matched back (``StatementEntry.end_to_end_id``).
"""

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sepaxml import SepaTransfer
from sepaxml.validation import ValidationError as SepaValidationError
from sepaxml.validation import try_valid_xml

from app.banking.iban import normalize_bic, normalize_iban
from app.core.errors import ValidationFailed
from app.core.i18n import _

SCHEMA = "pain.001.001.03"
MAX_ID = 35  # Max35Text: message and end-to-end ids
MAX_NAME = 70
MAX_REMITTANCE = 140
# The SEPA character set for ids (EPC guidance: no spaces; "/" not first or last, never "//").
_ID_OK = re.compile(r"[A-Za-z0-9+?:().,'\-/]{1,35}")


@dataclass(frozen=True, slots=True)
class DebtorAccount:
    """The platform's own account the money leaves from."""

    name: str
    iban: str
    bic: str | None = None


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    """One payment: ``amount`` in minor units."""

    end_to_end_id: str
    creditor_name: str
    iban: str
    bic: str | None
    amount: int
    currency: str
    remittance: str


def _check_id(value: str, field: str, errors: dict[str, list[str]]) -> None:
    ok = isinstance(value, str) and _ID_OK.fullmatch(value) is not None
    if not ok or value.startswith("/") or value.endswith("/") or "//" in value:
        errors.setdefault(field, []).append(
            _("%(value)r is not a valid id: 1–35 letters, digits and + ? : ( ) . , ' - /.", value=value)
        )


def build_credit_transfer(
    debtor: DebtorAccount,
    payments: Iterable[CreditTransfer | tuple],
    *,
    message_id: str,
    execution_date: dt.date | None = None,
    currency: str = "EUR",
) -> bytes:
    """The pain.001.001.03 XML (UTF-8 bytes) paying every payment from ``debtor``.

    ``payments`` are CreditTransfer or tuples in the same order (end_to_end_id, creditor
    name, IBAN, BIC or None, amount in minor units, currency, remittance). Every payment is
    in ``currency`` (EUR goes as SEPA, others as a domestic transfer without the SEPA
    service level). Names are transliterated to the SEPA Latin set and cut to 70
    characters. Any invalid field is a ValidationFailed naming ``payments.<i>.<field>``;
    the file is checked against the XSD before it is returned.
    """
    items = [p if isinstance(p, CreditTransfer) else CreditTransfer(*p) for p in payments]
    errors: dict[str, list[str]] = {}
    if not items:
        errors["payments"] = [_("A payment file needs at least one payment.")]
    _check_id(message_id, "message_id", errors)
    try:
        debtor_iban = normalize_iban(debtor.iban)
        debtor_bic = normalize_bic(debtor.bic)
    except ValidationFailed as exc:
        errors.update({f"debtor.{k}": v for k, v in exc.errors.items()})
    if not debtor.name or not debtor.name.strip():
        errors["debtor.name"] = [_("Enter the account holder's name.")]
    when = execution_date or dt.date.today()

    seen: set[str] = set()
    rows: list[dict] = []
    for i, item in enumerate(items):
        prefix = f"payments.{i}"
        _check_id(item.end_to_end_id, f"{prefix}.end_to_end_id", errors)
        if item.end_to_end_id in seen:
            errors.setdefault(f"{prefix}.end_to_end_id", []).append(_("Each end-to-end id must be unique in a file."))
        seen.add(item.end_to_end_id)
        if not item.creditor_name or not item.creditor_name.strip():
            errors[f"{prefix}.creditor_name"] = [_("Enter the account holder's name.")]
        if not isinstance(item.amount, int) or isinstance(item.amount, bool) or item.amount <= 0:
            errors[f"{prefix}.amount"] = [_("The amount must be a positive number of minor units.")]
        if item.currency != currency:
            errors[f"{prefix}.currency"] = [_("Every payment in the file must be in %(c)s.", c=currency)]
        if len(item.remittance or "") > MAX_REMITTANCE:
            errors[f"{prefix}.remittance"] = [_("At most %(n)s characters.", n=MAX_REMITTANCE)]
        iban = bic = None
        try:
            iban = normalize_iban(item.iban)
            bic = normalize_bic(item.bic)
        except ValidationFailed as exc:
            errors.update({f"{prefix}.{k}": v for k, v in exc.errors.items()})
        row = {
            "name": item.creditor_name.strip() if item.creditor_name else "",
            "IBAN": iban or "",
            "amount": item.amount,
            "currency": item.currency,
            "execution_date": when,
            "description": item.remittance or "",
            "endtoend_id": item.end_to_end_id,
        }
        if bic:
            row["BIC"] = bic
        rows.append(row)
    if errors:
        raise ValidationFailed(_("The payment file cannot be made."), errors)

    config = {"name": debtor.name.strip(), "IBAN": debtor_iban, "batch": True, "currency": currency}
    if debtor_bic:
        config["BIC"] = debtor_bic
    if currency != "EUR":
        config["domestic"] = True
    sepa = SepaTransfer(config, schema=SCHEMA, clean=True)
    sepa.msg_id = message_id
    sepa._xml.find("CstmrCdtTrfInitn/GrpHdr/MsgId").text = message_id  # sepaxml draws a random one
    for row in rows:
        sepa.add_payment(row)
    # One statement line per payment (BtchBookg false), not one for the whole batch, so each
    # can be matched by its end-to-end id when it is booked or returned. sepaxml writes
    # "true" when it finalises the batch, so the flag is set after, then the file validated.
    xml = sepa.export(validate=False).replace(b"<BtchBookg>true</BtchBookg>", b"<BtchBookg>false</BtchBookg>")
    try:
        try_valid_xml(xml, SCHEMA)
    except SepaValidationError as exc:
        detail = str(exc.__cause__ or exc)
        raise ValidationFailed(_("The payment file cannot be made."), {"payments": [detail]}) from None
    return xml
