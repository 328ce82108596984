import datetime as dt

import pytest

from app.banking.onec import iter_entries
from app.banking.references import make_reference
from app.core.errors import ValidationFailed

OURS = "40702810900000012345"
PAYER = "40817810500000054321"
REF = make_reference("P", 77)


def document(number="15", day="05.01.2026", amount="1500.50", payer=PAYER, payee=OURS, purpose=None, **extra):
    lines = [
        "СекцияДокумент=Платежное поручение",
        f"Номер={number}",
        f"Дата={day}",
        f"Сумма={amount}",
        f"ПлательщикСчет={payer}",
        "Плательщик=Иванов Иван Иванович",
        f"ПолучательСчет={payee}",
        "Получатель=ООО Зелёный раунд",
        f"НазначениеПлатежа={purpose if purpose is not None else f'Оплата по заявке {REF}. Без НДС'}",
        *(f"{k}={v}" for k, v in extra.items()),
        "КонецДокумента",
    ]
    return lines


def exchange(*documents, encoding="cp1251", header_encoding="Windows", end=True) -> bytes:
    lines = [
        "1CClientBankExchange",
        "ВерсияФормата=1.03",
        f"Кодировка={header_encoding}",
        "Отправитель=Бухгалтерия предприятия",
        "ДатаНачала=01.01.2026",
        "ДатаКонца=31.01.2026",
        f"РасчСчет={OURS}",
        "СекцияРасчСчет",
        "ДатаНачала=01.01.2026",
        f"РасчСчет={OURS}",
        "НачальныйОстаток=0.00",
        "КонецРасчСчет",
    ]
    for doc in documents:
        lines += doc
    if end:
        lines.append("КонецФайла")
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def refused(data, says):
    with pytest.raises(ValidationFailed) as caught:
        list(iter_entries(data))
    assert list(caught.value.errors) == ["file"]
    assert says in caught.value.errors["file"][0], caught.value.errors
    return caught.value.errors["file"][0]


def test_an_incoming_payment():
    [entry] = iter_entries(exchange(document(ДатаПоступило="06.01.2026")), expected_currency="RUB")
    assert entry.is_credit
    assert (entry.amount, entry.currency) == (150050, "RUB")
    assert entry.dedupe_key == f"1c:15:05.01.2026:150050:{PAYER}"
    assert entry.booking_date == dt.date(2026, 1, 6)
    assert entry.remittance == f"Оплата по заявке {REF}. Без НДС"
    assert entry.references == (REF,)
    assert (entry.account, entry.counterparty_account) == (OURS, PAYER)
    assert entry.counterparty_name == "Иванов Иван Иванович"
    assert entry.currency_expected and not entry.is_return


def test_outgoing_payment_and_the_same_document_twice():
    data = exchange(document(payer=OURS, payee=PAYER, amount="10", ДатаСписано="07.01.2026"), document())
    out, incoming = iter_entries(data)
    assert out.is_debit and out.amount == 1000 and out.account == OURS and out.counterparty_account == PAYER
    assert out.booking_date == dt.date(2026, 1, 7)
    assert incoming.is_credit and incoming.booking_date == dt.date(2026, 1, 5)  # no ДатаПоступило: the document's
    again = [e.dedupe_key for e in iter_entries(data)]
    assert again == [out.dedupe_key, incoming.dedupe_key]


def test_dos_encoding_and_a_document_without_reference():
    [entry] = iter_entries(exchange(document(purpose="Возврат займа"), encoding="cp866", header_encoding="DOS"))
    assert entry.remittance == "Возврат займа" and entry.references == ()


def test_a_file_in_roubles_when_euro_was_expected_is_reported():
    [entry] = iter_entries(exchange(document()), expected_currency="EUR")
    assert entry.currency == "RUB" and not entry.currency_expected


def test_read_from_a_path(tmp_path):
    path = tmp_path / "kl_to_1c.txt"
    path.write_bytes(exchange(document(), document(number="16")))
    assert [e.dedupe_key.split(":")[1] for e in iter_entries(path)] == ["15", "16"]


def test_not_a_1c_file_is_refused():
    refused(b"<?xml version='1.0'?><Document/>", "not a 1CClientBankExchange")
    refused(b"", "not a 1CClientBankExchange")
    refused("Выписка\r\n1CClientBankExchange\r\n".encode("cp1251"), "not a 1CClientBankExchange")


@pytest.mark.parametrize("amount", ["12.345", "1e3", "1 500,00", "-1.00", ""])
def test_bad_amounts_are_refused(amount):
    refused(exchange(document(amount=amount)), "Сумма" if not amount else "not an amount")


def test_broken_structure_is_refused():
    unfinished = document()[:-1]
    refused(exchange(unfinished, document()), "no КонецДокумента")
    refused(exchange(document(), end=False), "КонецФайла")
    refused(exchange(document(number="")), "Номер")
    refused(exchange(document(day="2026-01-05")), "not a date")
