"""EPC069-12 "GiroCode" (EPC QR code version 002): the payload a banking app scans to
prefill a SEPA credit transfer, and the QR code made from it with segno.

Payload lines: BCD, 002, 1 (UTF-8), SCT, BIC, beneficiary name, IBAN, EUR amount,
purpose, structured reference (ISO 11649) — trailing empty lines left out.
"""

import base64
import io

import segno

from app.banking import references
from app.banking.iban import validate_account
from app.core.errors import ValidationFailed
from app.core.i18n import _

MAX_NAME = 70
MIN_AMOUNT = 1  # minor units: EUR 0.01
MAX_AMOUNT = 99_999_999_999  # EUR 999999999.99
MAX_PAYLOAD_BYTES = 331


def epc_payload(
    *, beneficiary: str, iban: str, amount: int, currency: str = "EUR", reference: str, bic: str | None = None
) -> str:
    """The EPC QR payload for a transfer of ``amount`` minor units with a structured RF
    reference. EUR only, name ≤ 70 characters, amount 0.01–999999999.99; anything else is
    a ValidationFailed naming the field."""
    errors: dict[str, list[str]] = {}
    name = " ".join(str(beneficiary or "").split())
    if not name:
        errors["beneficiary"] = [_("Enter the beneficiary's name.")]
    elif len(name) > MAX_NAME:
        errors["beneficiary"] = [_("The beneficiary's name is at most %(n)s characters.", n=MAX_NAME)]
    if currency != "EUR":
        errors["currency"] = [_("An EPC QR code is for euro transfers only.")]
    if not isinstance(amount, int) or isinstance(amount, bool) or not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        errors["amount"] = [_("The amount must be between 0.01 and 999999999.99.")]
    account = None
    try:
        account = validate_account(iban, bic)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        checked_ref = references.normalize(reference)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(_("The payment details cannot be put in a QR code."), errors)
    lines = [
        "BCD",
        "002",
        "1",  # UTF-8
        "SCT",
        account.bic or "",
        name,
        account.iban,
        f"EUR{amount // 100}.{amount % 100:02d}",
        "",  # purpose
        checked_ref,
    ]
    payload = "\n".join(lines)
    if len(payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:  # cannot happen with the limits above
        raise ValidationFailed(_("The payment details cannot be put in a QR code."), {"beneficiary": [_("Too long.")]})
    return payload


def epc_qr(payload: str) -> segno.QRCode:
    """The QR code: error correction M and at most version 13, as EPC069-12 requires."""
    qr = segno.make_qr(payload, error="m", boost_error=False, encoding="utf-8")
    if qr.version > 13:
        raise ValueError(f"EPC QR codes are at most version 13, this one is {qr.designator}")
    return qr


def epc_svg(payload: str, *, scale: int = 4) -> str:
    """The QR code as an inline SVG document (text)."""
    buffer = io.BytesIO()
    epc_qr(payload).save(buffer, kind="svg", scale=scale, xmldecl=False, svgns=True)
    return buffer.getvalue().decode("utf-8")


def epc_png_data_uri(payload: str, *, scale: int = 4) -> str:
    """The QR code as a ``data:image/png;base64,…`` URI, for an ``<img src>`` or an e-mail."""
    buffer = io.BytesIO()
    epc_qr(payload).save(buffer, kind="png", scale=scale)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
