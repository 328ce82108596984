import datetime as dt
import io

import pytest

from app.banking.camt053 import iter_entries
from app.banking.pain001 import DebtorAccount, build_credit_transfer
from app.banking.references import make_reference
from app.core.errors import ValidationFailed
from tests.banking.camt_samples import OUR_IBAN, PAYER_IBAN, Entry, statement

REF = make_reference("P", 42)


def refused(data, *, says: str | None = None) -> str:
    with pytest.raises(ValidationFailed) as caught:
        list(iter_entries(data))
    assert list(caught.value.errors) == ["file"]
    message = caught.value.errors["file"][0]
    if says:
        assert says in message, message
    return message


@pytest.mark.parametrize("version", ["02", "08"])
def test_a_credit_paying_a_reference(version):
    data = statement([Entry(amount="1500.5", bank_ref="2026010500001", ustrd=f"Pledge {REF} thank you",
                            end_to_end_id="E2E-1")], version=version)
    [entry] = iter_entries(data, expected_currency="EUR")
    assert entry.dedupe_key == entry.bank_ref == "2026010500001"
    assert entry.is_credit and not entry.is_debit and entry.credit_debit == "CRDT"
    assert (entry.amount, entry.currency) == (150050, "EUR")
    assert entry.booking_date == dt.date(2026, 1, 5) and entry.value_date == dt.date(2026, 1, 5)
    assert entry.remittance == f"Pledge {REF} thank you"
    assert entry.references == (REF,)
    assert entry.end_to_end_id == "E2E-1"
    assert not entry.is_return and entry.return_reason is None
    assert (entry.account, entry.account_currency) == (OUR_IBAN, "EUR")
    assert (entry.counterparty_name, entry.counterparty_account) == ("Mari Maasikas", PAYER_IBAN)
    assert entry.status == "BOOK" and entry.currency_expected


@pytest.mark.parametrize("version", ["02", "08"])
def test_structured_reference_and_returns(version):
    data = statement([
        Entry(bank_ref="A1", strd_ref=REF, ustrd="free text"),
        Entry(bank_ref="A2", credit_debit="DBIT", end_to_end_id="W-9", party_name="Anna"),
        Entry(bank_ref="A3", end_to_end_id="W-9", subfamily="RRTN", return_reason="AC04"),
        Entry(bank_ref="A4", end_to_end_id="W-10", subfamily="ARET"),
    ], version=version)
    paid_in, paid_out, returned, returned_by_code = iter_entries(data)
    assert paid_in.structured_references == (REF,) and paid_in.references == (REF,)
    assert paid_out.is_debit and paid_out.end_to_end_id == "W-9" and not paid_out.is_return
    assert paid_out.counterparty_name == "Anna"  # the creditor, for a debit
    assert returned.is_return and returned.return_reason == "AC04" and returned.end_to_end_id == "W-9"
    assert returned_by_code.is_return and returned_by_code.return_reason is None


@pytest.mark.parametrize("version", ["02", "08"])
def test_a_batch_booking_gives_one_entry_per_transaction(version):
    data = statement([Entry(bank_ref="B1", credit_debit="DBIT", amount="10.00", end_to_end_id="W-1", extra_txs=2)],
                     version=version)
    entries = list(iter_entries(data))
    assert [e.dedupe_key for e in entries] == ["B1/1", "B1/2", "B1/3"]
    assert all(e.amount == 1000 for e in entries)


def test_an_entry_without_any_reference():
    data = statement([Entry(bank_ref=None, ustrd=None, party_name=None, party_iban=None)], stmt_id="S-9")
    [entry] = iter_entries(data)
    assert entry.references == () and entry.end_to_end_id is None and entry.bank_ref is None
    assert entry.remittance == "" and entry.structured_references == ()
    assert entry.counterparty_name is None and entry.counterparty_account is None
    assert entry.dedupe_key.startswith("stmt:S-9:1:CRDT:1230EUR:2026-01-05:")
    assert [e.dedupe_key for e in iter_entries(data)] == [entry.dedupe_key]  # the same file again: the same key
    # Another file without the bank's references and without a statement id does not collide.
    other = statement([Entry(amount="45.00", bank_ref=None, ustrd=None)], stmt_id="S-9")
    assert next(iter_entries(other)).dedupe_key != entry.dedupe_key


def test_not_provided_end_to_end_id_is_none():
    [entry] = iter_entries(statement([Entry(end_to_end_id="NOTPROVIDED")]))
    assert entry.end_to_end_id is None


def test_another_currency_than_expected_is_reported_per_entry():
    data = statement([Entry(currency="SEK", bank_ref="S1"), Entry(bank_ref="E1")], currency="SEK")
    sek, eur = iter_entries(data, expected_currency="EUR")
    assert (sek.currency, sek.currency_expected) == ("SEK", False)
    assert (eur.currency, eur.currency_expected) == ("EUR", True)
    assert sek.account_currency == "SEK"


def test_sources_path_bytes_and_file(tmp_path):
    data = statement([Entry()])
    path = tmp_path / "s.xml"
    path.write_bytes(data)
    for source in (data, path, str(path), io.BytesIO(data)):
        assert [e.amount for e in iter_entries(source)] == [1230]


@pytest.mark.parametrize("amount", ["12.345", "1e3", "-5.00", "1,00", "", "12.", "0x10", " NaN"])
def test_amounts_that_are_not_exact_decimals_are_refused(amount):
    refused(statement([Entry(amount=amount)]), says="not an amount")


def test_more_decimals_than_the_currency_has_in_08_is_refused():
    # valid for the XSD (up to 5 fraction digits) but not euro cents
    refused(statement([Entry(amount="12.345")], version="08"), says="not an amount")


def test_bad_fields_are_refused():
    refused(statement([Entry(credit_debit="BOTH")]), says="CdtDbtInd")
    refused(statement([Entry(booking_date="2026-13-45")]), says="not a date")
    refused(statement([Entry(currency="euro")]), says="currency")


def test_not_xml_is_refused():
    refused(b"IBAN;amount\nEE38;12.30\n", says="not well-formed XML")
    refused(b"", says="")
    refused(statement([Entry()])[:-40], says="not a valid camt.053")  # cut short


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><GrpHdr><MsgId>&lol9;</MsgId>
</GrpHdr></BkToCstmrStmt></Document>"""


def test_billion_laughs_is_refused_not_expanded():
    refused(BILLION_LAUGHS, says="DTD")


def test_external_entity_is_refused_and_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    xxe = statement([Entry(ustrd="&xxe;")]).replace(
        b"<Document", f'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://{secret}">]><Document'.encode(), 1)
    message = refused(xxe, says="DTD")
    assert "TOP-SECRET" not in message


def test_a_dtd_without_entities_is_refused_too():
    refused(statement([Entry()]).replace(b"<Document", b"<!DOCTYPE Document><Document", 1), says="DTD")


def test_camt052_is_refused():
    report = statement([Entry()]).replace(b"camt.053.001.02", b"camt.052.001.02").replace(
        b"BkToCstmrStmt", b"BkToCstmrAcctRpt").replace(b"<Stmt>", b"<Rpt>").replace(b"</Stmt>", b"</Rpt>")
    refused(report, says="camt.052.001.02 document, not a camt.053")


def test_pain001_passed_as_a_statement_is_refused():
    pain = build_credit_transfer(DebtorAccount("GreenRound", OUR_IBAN), [
        ("W-1", "Anna", PAYER_IBAN, None, 100, "EUR", "x")], message_id="M-1")
    refused(pain, says="pain.001.001.03 document, not a camt.053")


def test_other_xml_is_refused():
    refused(b"<html><body>statement</body></html>", says="not a camt.053")
    refused(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.01"/>', says="not supported")
    refused(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><Foo/></Document>',
            says="without a statement")
    refused(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>',
            says="no statement")


def test_001_08_is_validated_against_the_xsd():
    good = statement([Entry()], version="08")
    assert len(list(iter_entries(good))) == 1
    no_balance = good.replace(good[good.index(b"<Bal>"):good.index(b"</Bal>") + 6], b"")
    refused(no_balance, says="not a valid camt.053")
    bad_iban = statement([Entry(party_iban="not-an-iban")], version="08")
    refused(bad_iban, says="not a valid camt.053")


def test_later_versions_are_read_with_the_structural_checks():
    data = statement([Entry(ustrd=REF)], version="13")
    assert [e.references for e in iter_entries(data)] == [(REF,)]
