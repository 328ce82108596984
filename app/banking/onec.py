"""Reading a ``1CClientBankExchange`` statement: the text format Russian banks export for
1C (windows-1251, or cp866 when the header says ``Кодировка=DOS``).

Each ``СекцияДокумент=…`` … ``КонецДокумента`` section is one payment document. Those
paid to one of the statement's own accounts (``РасчСчет`` in the header) are credits, the
others debits. The duplicate key is ``Номер`` + ``Дата`` + ``Сумма`` + payer account.
Read line by line, so memory stays flat.
"""

import io
import os
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO

from app.banking.entries import CREDIT, DEBIT, StatementEntry, file_error, parse_amount
from app.core.i18n import _

MAGIC = b"1CClientBankExchange"
CURRENCY = "RUB"
_ENCODINGS = {"windows": "cp1251", "dos": "cp866"}
_ENCODING_KEYS = {"Кодировка=".encode(enc): enc for enc in ("cp1251", "cp866")}

Source = str | os.PathLike | bytes | IO[bytes]


def _date(text: str | None, where: str) -> date | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%d.%m.%Y").date()
    except ValueError:
        raise file_error(_("%(where)s: %(value)r is not a date (DD.MM.YYYY).", where=where, value=text)) from None


def iter_entries(source: Source, *, expected_currency: str | None = None) -> Iterator[StatementEntry]:
    """Every ``СекцияДокумент`` of the file as a StatementEntry (amounts in kopecks).

    A file that does not start with ``1CClientBankExchange``, a document without
    ``КонецДокумента``, a file without ``КонецФайла`` (cut short), or a document missing
    ``Номер``, ``Дата`` or ``Сумма`` is a ValidationFailed naming ``file``.
    """
    if isinstance(source, bytes | bytearray):
        stream: IO[bytes] = io.BytesIO(source)
        owned = True
    elif isinstance(source, str | os.PathLike):
        stream, owned = open(source, "rb"), True  # closed in the finally below
    else:
        stream, owned = source, False
    try:
        yield from _read(stream, expected_currency)
    finally:
        if owned:
            stream.close()


def _read(stream: IO[bytes], expected_currency: str | None) -> Iterator[StatementEntry]:
    first = stream.readline()
    if not first.lstrip(b"\xef\xbb\xbf").rstrip(b"\r\n ").startswith(MAGIC):
        raise file_error(_("The file is not a 1CClientBankExchange statement."))
    encoding = "cp1251"
    own_accounts: set[str] = set()
    document: dict[str, str] | None = None
    doc_line = 0
    position = 0
    finished = False
    for number, raw in enumerate(stream, start=2):
        if document is None and not own_accounts:
            for key, enc in _ENCODING_KEYS.items():
                if raw.startswith(key):
                    value = raw[len(key) :].decode(enc).strip().lower()
                    encoding = _ENCODINGS.get(value, encoding)
        try:
            line = raw.decode(encoding).strip()
        except UnicodeDecodeError:
            raise file_error(_("Line %(n)s is not %(enc)s text.", n=number, enc=encoding)) from None
        if not line:
            continue
        key, _sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if document is not None:
            if key == "КонецДокумента":
                position += 1
                yield _entry(document, doc_line, position, own_accounts, expected_currency)
                document = None
            elif key.startswith("СекцияДокумент") or key in ("КонецФайла", "СекцияРасчСчет"):
                raise file_error(_("The document from line %(n)s has no КонецДокумента.", n=doc_line))
            else:
                document.setdefault(key, value)
            continue
        if key == "СекцияДокумент":
            document, doc_line = {"_kind": value}, number
        elif key == "РасчСчет" and value:
            own_accounts.add(value)
        elif key == "КонецФайла":
            finished = True
            break
    if document is not None:
        raise file_error(_("The document from line %(n)s has no КонецДокумента.", n=doc_line))
    if not finished:
        raise file_error(_("The file ends without КонецФайла (cut short?)."))


def _entry(
    doc: dict[str, str], line: int, position: int, own_accounts: set[str], expected_currency: str | None
) -> StatementEntry:
    where = _("document at line %(n)s", n=line)
    missing = [k for k in ("Номер", "Дата", "Сумма") if not doc.get(k)]
    if missing:
        raise file_error(_("%(where)s: %(fields)s missing.", where=where, fields=", ".join(missing)))
    amount = parse_amount(doc["Сумма"], CURRENCY, where)
    payer, payee = doc.get("ПлательщикСчет") or None, doc.get("ПолучательСчет") or None
    if payee in own_accounts and payer not in own_accounts:
        credit_debit = CREDIT
    elif payer in own_accounts:
        credit_debit = DEBIT
    else:  # no header account to compare: the bank's dates say which way
        credit_debit = CREDIT if doc.get("ДатаПоступило") else DEBIT
    incoming = credit_debit == CREDIT
    ours = payee if incoming else payer
    issued = _date(doc["Дата"], where)
    booked = _date(doc.get("ДатаПоступило") if incoming else doc.get("ДатаСписано"), where) or issued
    key = f"1c:{doc['Номер']}:{doc['Дата']}:{amount}:{payer or ''}"
    return StatementEntry(
        dedupe_key=key,
        bank_ref=None,
        credit_debit=credit_debit,
        amount=amount,
        currency=CURRENCY,
        booking_date=booked,
        value_date=booked,
        remittance=doc.get("НазначениеПлатежа", ""),
        structured_references=(),
        end_to_end_id=None,
        is_return=False,
        return_reason=None,
        account=ours,
        account_currency=CURRENCY,
        counterparty_name=(doc.get("Плательщик1") or doc.get("Плательщик")) if incoming
        else (doc.get("Получатель1") or doc.get("Получатель")),
        counterparty_account=payer if incoming else payee,
        status="BOOK",
        additional_info=doc.get("_kind") or None,
        currency_expected=expected_currency is None or expected_currency == CURRENCY,
    )
