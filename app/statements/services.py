"""Importing a bank statement and reconciling its lines, and the operator's hand work on the
lines that matched nothing. Services flush; the caller commits (one statement, one commit).

Matching works by the batch: ``BATCH`` entries are read from the stream, their dedupe keys
looked up in one query, the pledges their RF references name in one more, and the credits
that name one are settled together through ``payments.services.settle_transfers`` (which
decides: still pending, same amount and currency; a few statements per batch, not per
pledge). The lines go in with one multi-row INSERT.
"""

import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from itertools import islice
from typing import IO, Any

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from app.banking import camt053, onec
from app.banking.entries import StatementEntry
from app.core import bulk
from app.core.audit import audit
from app.core.boundaries import MAX_ID
from app.core.errors import NotFound, StateConflict, ValidationFailed
from app.core.i18n import _
from app.extensions import db
from app.payments import methods
from app.payments import services as payments
from app.payments.models import Pledge, PledgeStatus
from app.statements.models import BankStatement, Direction, LineStatus, StatementFormat, StatementLine
from app.wallets import services as wallets

#: The largest statement upload the views accept (a 413 above it); the service streams any size.
MAX_BYTES = 50 * 1024 * 1024
#: Entries read, looked up and written together.
BATCH = 1000
ONEC_MAGIC = "1CClientBankExchange".encode("ascii")
PLATFORM_CURRENCY = {"EU": "EUR", "RU": "RUB"}


def _file_error(detail: str) -> ValidationFailed:
    return ValidationFailed(_("The statement file cannot be imported."), {"file": [detail]})


def _code(jurisdiction: Any) -> str:
    return str(getattr(jurisdiction, "code", jurisdiction)).upper()


def platform_currency(jurisdiction: Any) -> str:
    """The one currency the platform's client-money account holds (EUR in the EU, RUB in RU)."""
    return getattr(jurisdiction, "currency", None) or PLATFORM_CURRENCY[_code(jurisdiction)]


def detect_format(data: bytes, jurisdiction: Any) -> StatementFormat:
    """camt.053 XML anywhere; a 1C exchange file only in an RU deployment. Else a 422 on ``file``."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(ONEC_MAGIC):
        if _code(jurisdiction) != "RU":
            raise _file_error(_("1CClientBankExchange statements are accepted only in the Russian deployment."))
        return StatementFormat.ONEC
    if head.startswith(b"<"):
        return StatementFormat.CAMT053
    raise _file_error(_("The file is not a camt.053 statement (ISO 20022 XML)."))


def _batches(entries: Iterable[StatementEntry]) -> Iterator[list[StatementEntry]]:
    iterator = iter(entries)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def _digest(stream: IO[bytes]) -> str:
    """SHA-256 of a seekable stream, read in chunks, left at its start."""
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def import_statement(source: bytes | IO[bytes], filename: str, *, actor: Any, now: datetime,
                     jurisdiction: Any) -> BankStatement:
    """Store every entry of the statement and settle what it pays, in the caller's transaction.

    ``source`` is the file's bytes or a seekable binary stream (an upload's spooled file):
    it is read as a stream, never whole into memory. An error anywhere (not a statement,
    another currency, a broken entry after a thousand good ones) raises before the commit,
    so nothing of the file is kept. Entries seen before (same dedupe key) count as
    ``duplicates`` and change nothing.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    sha256 = _digest(stream)
    head = stream.read(64)
    stream.seek(0)
    fmt = detect_format(head, jurisdiction)
    currency = platform_currency(jurisdiction)
    reader = onec if fmt == StatementFormat.ONEC else camt053
    statement = BankStatement(format=fmt.value, filename=(filename or "statement")[:255],
                              sha256=sha256, currency=currency, imported_at=now,
                              imported_by=getattr(actor, "id", None), entries=0, matched=0, unmatched=0,
                              duplicates=0)
    db.session.add(statement)
    db.session.flush()
    seen: set[str] = set()
    for batch in _batches(reader.iter_entries(stream, expected_currency=currency)):
        _check_entries(batch, currency, _expected_account(jurisdiction))
        if statement.account is None:
            statement.account = next((e.account for e in batch if e.account), None)
        _import_batch(statement, batch, seen, now)
    audit("bank_statement.imported", actor=actor, subject=statement, at=now,
          details={"filename": statement.filename, "sha256": statement.sha256, "format": statement.format,
                   "entries": statement.entries, "matched": statement.matched, "unmatched": statement.unmatched,
                   "duplicates": statement.duplicates})
    db.session.flush()
    return statement


#: Column widths of ``statement_lines``: a longer value is a broken file, not a 500.
_WIDTHS = (("dedupe_key", 255), ("bank_ref", 255), ("end_to_end_id", 64), ("return_reason", 64), ("account", 34))


def _expected_account(jurisdiction: Any) -> str:
    """The client-money account a statement must be for (the nominal account in Russia)."""
    config = current_app.config
    return config["PLATFORM_RU_ACCOUNT"] if _code(jurisdiction) == "RU" else config["PLATFORM_IBAN"]


def _check_entries(batch: list[StatementEntry], currency: str, account: str) -> None:
    for entry in batch:
        if entry.account and entry.account.replace(" ", "").upper() != account:
            raise _file_error(_("The statement is for account %(found)s, not the platform's client-money account.",
                                found=entry.account))
        for name, width in _WIDTHS:
            value = getattr(entry, name)
            if value is not None and len(value) > width:
                raise _file_error(_("An entry's %(field)s is longer than %(width)s characters.", field=name,
                                    width=width))
    for entry in batch:
        if not entry.currency_expected or entry.currency != currency or (
                entry.account_currency and entry.account_currency != currency):
            raise _file_error(_("The statement is in %(found)s; this platform's account is in %(currency)s.",
                                found=entry.account_currency if entry.account_currency not in (None, currency)
                                else entry.currency, currency=currency))


_KNOWN_KEYS = select(StatementLine.dedupe_key).where(StatementLine.dedupe_key.in_(db.bindparam("keys", expanding=True)))
_PENDING_BY_REFERENCE = select(Pledge).where(
    Pledge.payment_reference.in_(db.bindparam("refs", expanding=True)),
    Pledge.payment_method == methods.BANK_TRANSFER, Pledge.status == PledgeStatus.PENDING_PAYMENT.value)


def _import_batch(statement: BankStatement, batch: list[StatementEntry], seen: set[str], now: datetime) -> None:
    statement.entries += len(batch)
    batch = [_as_seen(e) for e in batch]
    known = set(db.session.scalars(_KNOWN_KEYS, {"keys": list({e.dedupe_key for e in batch})}))
    fresh: list[StatementEntry] = []
    for entry in batch:
        if entry.dedupe_key in known or entry.dedupe_key in seen:
            statement.duplicates += 1
        else:
            seen.add(entry.dedupe_key)
            fresh.append(entry)
    if not fresh:
        return
    pledges = _pending_pledges(fresh)
    claims = _claims(fresh, pledges)
    paid = payments.settle_transfers([(pledges[ref], entry.amount, entry.currency) for entry, ref in claims.values()],
                                     now=now)
    rows = []
    for n, entry in enumerate(fresh):
        claim = claims.get(n)
        pledge_id = pledges[claim[1]].id if claim is not None and pledges[claim[1]].id in paid else None
        withdrawal_id = None if pledge_id is not None or claim is not None else _withdrawal(entry, now)
        matched = pledge_id is not None or withdrawal_id is not None
        statement.matched += matched
        statement.unmatched += not matched
        rows.append(_row(statement.id, entry, LineStatus.MATCHED if matched else LineStatus.UNMATCHED,
                         pledge_id, withdrawal_id, now if matched else None))
    try:
        with db.session.begin_nested():
            bulk.insert_rows(StatementLine.__table__, rows)
    except IntegrityError:
        raise StateConflict(_("Another import of the same entries is under way; try again when it is done."),
                            {"file": [_("Entries of this file were imported at the same time by someone else.")]}
                            ) from None


def _pending_pledges(entries: list[StatementEntry]) -> dict[str, Pledge]:
    refs = list({ref for e in entries if e.is_credit and not e.is_return for ref in e.references})
    if not refs:
        return {}
    return {p.payment_reference: p for p in db.session.scalars(_PENDING_BY_REFERENCE, {"refs": refs})}


def _booked(entry: StatementEntry) -> bool:
    """Only a booked entry is money on the account; a pending or informational one moves nothing."""
    return entry.status in (None, "BOOK")


def _as_seen(entry: StatementEntry) -> StatementEntry:
    """A pending entry is kept under a key of its own, so the booked one that follows (same
    ``AcctSvcrRef``) is not taken for a duplicate."""
    return entry if _booked(entry) else replace(entry, dedupe_key=f"{entry.dedupe_key}:{entry.status}"[:255])


def _claims(entries: list[StatementEntry], pledges: dict[str, Pledge]) -> dict[int, tuple[StatementEntry, str]]:
    """Which credit (by its position in the batch) pays which pending pledge (by reference):
    the first of its references whose pledge has the same amount and currency, and each
    pledge at most once (a second credit with the same reference is not a second payment)."""
    claims: dict[int, tuple[StatementEntry, str]] = {}
    taken: set[str] = set()
    for n, entry in enumerate(entries):
        if not entry.is_credit or entry.is_return or not _booked(entry):
            continue
        for ref in entry.references:
            pledge = pledges.get(ref)
            if (pledge is not None and ref not in taken and pledge.amount == entry.amount
                    and pledge.currency == entry.currency):
                claims[n] = (entry, ref)
                taken.add(ref)
                break
    return claims


def _withdrawal(entry: StatementEntry, now: datetime) -> int | None:
    """The withdrawal a debit paid, or a return sent back, by its end-to-end id; None if none."""
    if not entry.end_to_end_id or not (entry.is_debit or entry.is_return) or not _booked(entry):
        return None
    if entry.is_return:
        withdrawal = wallets.record_withdrawal_returned(entry.end_to_end_id, amount=entry.amount,
                                                        currency=entry.currency, reason=entry.return_reason, now=now)
    else:
        withdrawal = wallets.record_withdrawal_paid(entry.end_to_end_id, amount=entry.amount,
                                                    currency=entry.currency, now=now)
    return withdrawal.id if withdrawal is not None else None


def _row(statement_id: int, e: StatementEntry, status: LineStatus, pledge_id: int | None,
         withdrawal_id: int | None, matched_at: datetime | None) -> dict[str, Any]:
    return {"statement_id": statement_id, "dedupe_key": e.dedupe_key, "bank_ref": e.bank_ref,
            "direction": Direction.CREDIT.value if e.is_credit else Direction.DEBIT.value, "amount": e.amount,
            "currency": e.currency, "booking_date": e.booking_date, "remittance": e.remittance or "",
            "references": list(e.references), "end_to_end_id": e.end_to_end_id, "is_return": e.is_return,
            "return_reason": e.return_reason, "status": status.value, "pledge_id": pledge_id,
            "withdrawal_id": withdrawal_id, "matched_by": None, "matched_at": matched_at}


# --- reading -------------------------------------------------------------------------------


def get_statement(statement_id: int) -> BankStatement:
    statement = db.session.get(BankStatement, statement_id) if 0 < statement_id <= MAX_ID else None
    if statement is None:
        raise NotFound(_("No such bank statement."))
    return statement


def statements_query() -> Select:
    return select(BankStatement).order_by(BankStatement.imported_at.desc(), BankStatement.id.desc())


def lines_query(statement_id: int, status: str | None = None) -> Select:
    """The lines of a statement in file order, optionally of one status (422 for an unknown one)."""
    statement = select(StatementLine).where(StatementLine.statement_id == statement_id).order_by(StatementLine.id)
    if status:
        if status not in {s.value for s in LineStatus}:
            raise ValidationFailed(_("Unknown line status."), {"status": [
                _("Must be one of: %(values)s.", values=", ".join(s.value for s in LineStatus))]})
        statement = statement.where(StatementLine.status == status)
    return statement


def unmatched_count() -> int:
    """Lines of every statement still waiting for the operator's hand (the dashboard's count)."""
    return db.session.scalar(select(func.count()).select_from(StatementLine).where(
        StatementLine.status == LineStatus.UNMATCHED.value)) or 0


def open_lines_count(statement_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(StatementLine).where(
        StatementLine.statement_id == statement_id, StatementLine.status == LineStatus.UNMATCHED.value)) or 0


# --- the operator's hand work ----------------------------------------------------------------


def _unmatched_line(line_id: int) -> StatementLine:
    line = db.session.get(StatementLine, line_id) if 0 < line_id <= MAX_ID else None
    if line is None:
        raise NotFound(_("No such statement line."))
    if line.status != LineStatus.UNMATCHED:
        raise StateConflict(_("This line is already %(status)s.", status=line.status.replace("_", " ")))
    return line


def find_pledge(value: str | int) -> Pledge:
    """A pledge by its id or by its RF payment reference (a 404 when there is none)."""
    text = str(value).strip()
    pledge = None
    if text.isdigit() and text.isascii():
        number = int(text)
        pledge = db.session.get(Pledge, number) if 0 < number <= MAX_ID else None
    elif text:
        pledge = payments.pledge_for_reference(text.replace(" ", "").upper())
    if pledge is None:
        message = _("No pledge with that id or reference.")
        raise NotFound(message, {"pledge": [message]})
    return pledge


def match_line(line_id: int, pledge_id: str | int, actor: Any, now: datetime) -> StatementLine:
    """Pay a pending bank-transfer pledge with an unmatched credit, by the operator's hand.

    Only a credit of exactly the pledge's amount and currency pays a pledge still pending
    payment; anything else is refused and changes nothing.
    """
    line = _unmatched_line(line_id)
    pledge = find_pledge(pledge_id)
    if line.direction != Direction.CREDIT or line.is_return:
        raise ValidationFailed(_("Only an incoming transfer can pay a pledge."),
                               {"line": [_("This line is not an incoming transfer.")]})
    if pledge.payment_method != methods.BANK_TRANSFER:
        raise ValidationFailed(_("Only a bank-transfer pledge is paid from a bank statement."),
                               {"pledge": [_("This pledge is not paid by bank transfer.")]})
    if pledge.status != PledgeStatus.PENDING_PAYMENT:
        raise StateConflict(_("The pledge is %(status)s, not awaiting payment.", status=pledge.status),
                            {"pledge": [_("The pledge is not awaiting payment.")]})
    if pledge.amount != line.amount or pledge.currency != line.currency:
        raise ValidationFailed(_("The line's amount differs from the pledge's."),
                               {"pledge": [_("The pledge is for another amount or currency.")]})
    if not payments.settle_transfer(pledge, amount=line.amount, currency=line.currency, now=now, actor=actor):
        raise StateConflict(_("The pledge can no longer be paid (it has expired)."),
                            {"pledge": [_("The pledge can no longer be paid.")]})
    line.status = LineStatus.MATCHED.value
    line.pledge_id = pledge.id
    line.matched_by = getattr(actor, "id", None)
    line.matched_at = now
    audit("statement_line.matched", actor=actor, subject=line, at=now,
          details={"statement_id": line.statement_id, "pledge_id": pledge.id, "amount": line.amount,
                   "currency": line.currency})
    db.session.flush()
    return line


def mark_returned(line_id: int, actor: Any, now: datetime) -> StatementLine:
    """Record that an unmatched line's money was sent back to the payer by the bank (outside
    our ledger: it never entered a wallet or an escrow, so nothing moves here)."""
    line = _unmatched_line(line_id)
    line.status = LineStatus.RETURNED_TO_SENDER.value
    line.matched_by = getattr(actor, "id", None)
    line.matched_at = now
    audit("statement_line.returned_to_sender", actor=actor, subject=line, at=now,
          details={"statement_id": line.statement_id, "amount": line.amount, "currency": line.currency})
    db.session.flush()
    return line


def line_statement_id(line_id: int) -> int:
    """The statement a line belongs to (404 for an unknown line)."""
    line = db.session.get(StatementLine, line_id) if 0 < line_id <= MAX_ID else None
    if line is None:
        raise NotFound(_("No such statement line."))
    return line.statement_id
