"""camt.053 statements built by hand for the tests, and a streaming generator of big ones
that a benchmark can reuse (``write_statement(path, 100_000)``).

Both camt.053.001.02 and camt.053.001.08 shapes are produced; the 001.08 ones are valid
against the official XSD.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

from app.banking.references import make_reference

OUR_IBAN = "EE382200221020145685"
PAYER_IBAN = "DE89370400440532013000"


@dataclass
class Entry:
    amount: str = "12.30"
    currency: str = "EUR"
    credit_debit: str = "CRDT"
    bank_ref: str | None = "ASR-1"
    ustrd: str | None = None
    strd_ref: str | None = None
    end_to_end_id: str | None = None
    subfamily: str = "ESCT"
    return_reason: str | None = None
    booking_date: str = "2026-01-05"
    party_name: str | None = "Mari Maasikas"
    party_iban: str | None = PAYER_IBAN
    extra_txs: int = 0  # more TxDtls in the same entry (a batch booking)


def _opt(tag: str, value: str | None) -> str:
    return f"<{tag}>{escape(value)}</{tag}>" if value is not None else ""


def _tx(e: Entry, version: str, amount: str | None = None) -> str:
    v08 = version >= "08"
    refs = _opt("EndToEndId", e.end_to_end_id)
    refs_xml = f"<Refs>{refs}</Refs>" if refs else ""
    amt = ""
    if amount is not None:  # a transaction of a batch: its own amount
        amt = (f'<Amt Ccy="{e.currency}">{amount}</Amt>' if v08
               else f'<AmtDtls><TxAmt><Amt Ccy="{e.currency}">{amount}</Amt></TxAmt></AmtDtls>')
    party = "Dbtr" if e.credit_debit == "CRDT" else "Cdtr"
    parties = ""
    if e.party_name or e.party_iban:
        name = ""
        if e.party_name:
            name = (f"<{party}><Pty><Nm>{escape(e.party_name)}</Nm></Pty></{party}>" if v08
                    else f"<{party}><Nm>{escape(e.party_name)}</Nm></{party}>")
        acct = f"<{party}Acct><Id><IBAN>{e.party_iban}</IBAN></Id></{party}Acct>" if e.party_iban else ""
        parties = f"<RltdPties>{name}{acct}</RltdPties>"
    rmt = _opt("Ustrd", e.ustrd)
    if e.strd_ref:
        rmt += f"<Strd><CdtrRefInf><Ref>{escape(e.strd_ref)}</Ref></CdtrRefInf></Strd>"
    rmt_xml = f"<RmtInf>{rmt}</RmtInf>" if rmt else ""
    rtr = f"<RtrInf><Rsn><Cd>{e.return_reason}</Cd></Rsn></RtrInf>" if e.return_reason else ""
    return f"<TxDtls>{refs_xml}{amt}{parties}{rmt_xml}{rtr}</TxDtls>"


def entry_xml(e: Entry, version: str = "02") -> str:
    v08 = version >= "08"
    sts = "<Sts><Cd>BOOK</Cd></Sts>" if v08 else "<Sts>BOOK</Sts>"
    family = "RCDT" if e.credit_debit == "CRDT" else "ICDT"
    if e.extra_txs:
        txs = "".join(_tx(e, version, amount=e.amount) for _ in range(1 + e.extra_txs))
    else:
        txs = _tx(e, version)
    return (
        f'<Ntry><Amt Ccy="{e.currency}">{e.amount}</Amt><CdtDbtInd>{e.credit_debit}</CdtDbtInd>{sts}'
        f"<BookgDt><Dt>{e.booking_date}</Dt></BookgDt><ValDt><Dt>{e.booking_date}</Dt></ValDt>"
        f"{_opt('AcctSvcrRef', e.bank_ref)}"
        f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{e.subfamily}</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"<NtryDtls>{txs}</NtryDtls></Ntry>"
    )


def header(version: str = "02", iban: str = OUR_IBAN, currency: str = "EUR", stmt_id: str = "STMT-1") -> str:
    bal_tp = "<Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">'
        "<BkToCstmrStmt><GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-01-06T08:00:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{stmt_id}</Id><CreDtTm>2026-01-06T08:00:00</CreDtTm>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{currency}</Ccy></Acct>"
        f'<Bal>{bal_tp}<Amt Ccy="{currency}">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        f"<Dt><Dt>2026-01-05</Dt></Dt></Bal>"
    )


FOOTER = "</Stmt></BkToCstmrStmt></Document>"


def statement(entries: Iterable[Entry], version: str = "02", **kw: str) -> bytes:
    """A whole camt.053 document with these entries, as bytes."""
    return (header(version, **kw) + "".join(entry_xml(e, version) for e in entries) + FOOTER).encode("utf-8")


def generated_entry(i: int) -> Entry:
    """The i-th entry of a generated statement: a credit paying pledge ``i``."""
    return Entry(
        amount=f"{10 + i % 1000}.{i % 100:02d}",
        bank_ref=f"ASR-{i:09d}",
        ustrd=f"Pledge {make_reference('P', i)} thank you",
        end_to_end_id=f"E2E-{i}",
        party_name=f"Investor {i}",
    )


def write_statement(target: str | Path | IO[bytes], n: int, version: str = "02") -> int:
    """Write a camt.053 with ``n`` generated entries to a path or binary file, streamed
    (never the whole document in memory). Returns the number of bytes written."""
    if isinstance(target, str | Path):
        with open(target, "wb") as out:
            return write_statement(out, n, version)
    written = target.write(header(version).encode())
    chunk: list[str] = []
    for i in range(n):
        chunk.append(entry_xml(generated_entry(i), version))
        if len(chunk) == 1000:
            written += target.write("".join(chunk).encode())
            chunk.clear()
    written += target.write(("".join(chunk) + FOOTER).encode())
    return written
