import datetime as dt
from pathlib import Path

import pytest
import sepaxml
import xmlschema
from lxml import etree

from app.banking import pain001
from app.banking.pain001 import CreditTransfer, DebtorAccount, build_credit_transfer
from app.core.errors import ValidationFailed

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
XSD = Path(sepaxml.__file__).with_name("schemas") / "pain.001.001.03.xsd"
DEBTOR = DebtorAccount("GreenRound OÜ", "ee38 2200 2210 2014 5685", "habaee2x")
PAYMENTS = [
    ("W-1", "Jõe Mänd", "DE89 3704 0044 0532 0130 00", None, 12345, "EUR", "GreenRound withdrawal W-1"),
    CreditTransfer("W-2", "Anna Kask", "EE382200221020145685", "HABAEE2X", 1, "EUR", "GreenRound withdrawal W-2"),
]


def build(payments=PAYMENTS, **kw):
    kw.setdefault("message_id", "BATCH-7")
    kw.setdefault("execution_date", dt.date(2026, 1, 8))
    return build_credit_transfer(kw.pop("debtor", DEBTOR), payments, **kw)


def test_round_trip_through_the_xsd():
    xml = build()
    xmlschema.XMLSchema(str(XSD)).validate(xml.decode())  # raises if invalid
    doc = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    assert doc.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=NS) == "BATCH-7"
    assert doc.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert doc.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "123.46"
    info = doc.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info.findtext("p:BtchBookg", namespaces=NS) == "false"  # one statement line per payment
    assert info.findtext("p:ReqdExctnDt", namespaces=NS) == "2026-01-08"
    assert info.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == "EE382200221020145685"
    txs = info.findall("p:CdtTrfTxInf", NS)
    assert [t.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for t in txs] == ["W-1", "W-2"]
    assert [t.findtext("p:Amt/p:InstdAmt", namespaces=NS) for t in txs] == ["123.45", "0.01"]
    assert [t.find("p:Amt/p:InstdAmt", NS).get("Ccy") for t in txs] == ["EUR", "EUR"]
    assert txs[0].findtext("p:Cdtr/p:Nm", namespaces=NS) == "Joe Mand"  # SEPA Latin set
    assert txs[0].findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == "DE89370400440532013000"
    assert txs[1].findtext("p:CdtrAgt/p:FinInstnId/p:BIC", namespaces=NS) == "HABAEE2X"
    assert txs[1].findtext("p:RmtInf/p:Ustrd", namespaces=NS) == "GreenRound withdrawal W-2"


def test_the_file_is_checked_against_the_shipped_xsd(monkeypatch):
    seen = []
    real = pain001.try_valid_xml
    monkeypatch.setattr(pain001, "try_valid_xml", lambda xml, schema: seen.append(schema) or real(xml, schema))
    build()
    assert seen == ["pain.001.001.03"]
    tampered = build().replace(b"<ChrgBr>SLEV</ChrgBr>", b"<ChrgBr>NOPE</ChrgBr>")
    with pytest.raises(sepaxml.validation.ValidationError):
        real(tampered, "pain.001.001.03")


@pytest.mark.parametrize(
    ("payments", "field"),
    [
        ([], "payments"),
        ([("W-1", "A", "EE39 2200 2210 2014 5685", None, 100, "EUR", "x")], "payments.0.iban"),
        ([("W-1", "A", "EE382200221020145685", "HAB", 100, "EUR", "x")], "payments.0.bic"),
        ([("W 1", "A", "EE382200221020145685", None, 100, "EUR", "x")], "payments.0.end_to_end_id"),
        ([("W" * 36, "A", "EE382200221020145685", None, 100, "EUR", "x")], "payments.0.end_to_end_id"),
        ([("W-1", "A", "EE382200221020145685", None, 100, "EUR", "x")] * 2, "payments.1.end_to_end_id"),
        ([("W-1", "A", "EE382200221020145685", None, 0, "EUR", "x")], "payments.0.amount"),
        ([("W-1", "A", "EE382200221020145685", None, 1.5, "EUR", "x")], "payments.0.amount"),
        ([("W-1", "A", "EE382200221020145685", None, 100, "SEK", "x")], "payments.0.currency"),
        ([("W-1", "", "EE382200221020145685", None, 100, "EUR", "x")], "payments.0.creditor_name"),
        ([("W-1", "A", "EE382200221020145685", None, 100, "EUR", "x" * 141)], "payments.0.remittance"),
    ],
)
def test_bad_payments_refused(payments, field):
    with pytest.raises(ValidationFailed) as caught:
        build(payments)
    assert field in caught.value.errors


def test_bad_debtor_and_message_id_refused():
    with pytest.raises(ValidationFailed) as caught:
        build(debtor=DebtorAccount("", "EE39 2200 2210 2014 5685"), message_id="//")
    assert {"debtor.iban", "debtor.name", "message_id"} <= set(caught.value.errors)
