"""The wallet through the API: balances, movements, the bank account, withdrawals and the
operator's payment files. Every refusal writes nothing and moves no money."""

import pytest
from lxml import etree
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.extensions import db
from app.wallets.models import BankAccount, Withdrawal
from tests.factories import UserFactory
from tests.payments.conftest import make_fund_manager
from tests.payments.test_api_pledges import assert_problem
from tests.payments.test_wallet_and_transfer_pledges import credit_wallet, wallet

GOOD_IBAN = "DE89 3704 0044 0532 0130 00"
ACCOUNT = {"holder_name": "Mari Maasikas", "iban": GOOD_IBAN, "bic": "COBADEFFXXX"}


def withdrawals() -> int:
    return db.session.scalar(select(func.count()).select_from(Withdrawal))


def with_account(api, user, amount: int) -> None:
    credit_wallet(amount, user=user)
    assert api(user, "PUT", "/me/bank-account", ACCOUNT).status_code == 200


# --- balances and movements -------------------------------------------------------------------


def test_a_new_investor_has_an_empty_wallet_and_no_movements(api, investor):
    assert api(investor, "GET", "/me/wallet").get_json() == {"balances": []}
    listed = api(investor, "GET", "/me/wallet/movements").get_json()
    assert listed == {"items": [], "page": 1, "per_page": 20, "total": 0}


def test_the_wallet_shows_available_and_reserved_and_the_movements_signed(api, investor):
    with_account(api, investor, 900_00)
    assert api(investor, "POST", "/me/withdrawals", {"amount": 300_00, "currency": "EUR"}).status_code == 201
    assert api(investor, "GET", "/me/wallet").get_json() == {
        "balances": [{"currency": "EUR", "available": 600_00, "reserved": 300_00}]}
    items = api(investor, "GET", "/me/wallet/movements").get_json()["items"]
    assert [(m["kind"], m["amount"]) for m in items] == [("withdrawal", -300_00), ("repayment", 900_00)]


def test_movements_are_paged_and_bad_page_arguments_are_422(api, investor):
    for amount in (1_00, 2_00, 3_00):
        credit_wallet(amount, user=investor)
    page = api(investor, "GET", "/me/wallet/movements?per_page=2&page=2").get_json()
    assert (page["total"], len(page["items"]), page["page"]) == (3, 1, 2)
    assert_problem(api(investor, "GET", "/me/wallet/movements?per_page=500"), 422, "per_page")
    assert_problem(api(investor, "GET", "/me/wallet/movements?page=99999999999999999999"), 422, "page")
    assert_problem(api(investor, "GET", "/me/withdrawals?page=99999999999999999999"), 422, "page")


def test_no_one_reads_another_investors_wallet(api, investor):
    credit_wallet(900_00, user=investor)
    other = UserFactory(roles=["investor"])
    assert api(other, "GET", "/me/wallet").get_json() == {"balances": []}
    assert api(other, "GET", "/me/wallet/movements").get_json()["total"] == 0


@pytest.mark.parametrize("role", ["owner", "operator", "regulator"])
def test_roles_without_a_wallet_get_403(api, role):
    assert_problem(api(UserFactory(roles=[role]), "GET", "/me/wallet"), 403)


def test_a_fund_managers_wallet_is_the_funds(api):
    manager, fund = make_fund_manager()
    credit_wallet(250_00, fund=fund)
    assert api(manager, "GET", "/me/wallet").get_json()["balances"][0]["available"] == 250_00


# --- the bank account ---------------------------------------------------------------------------


def test_a_bank_account_is_stored_normalised_and_answered_masked(api, investor):
    response = api(investor, "PUT", "/me/bank-account", {"holder_name": "Mari Maasikas",
                                                         "iban": "de89 3704 0044 0532 0130 00"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["holder_name"] == "Mari Maasikas" and body["iban_masked"].endswith("3000")
    assert "3704" not in body["iban_masked"]
    assert db.session.scalar(select(BankAccount.iban)) == "DE89370400440532013000"
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "wallet.bank_account_set")) == 1


def test_putting_the_bank_account_again_replaces_it(api, investor):
    api(investor, "PUT", "/me/bank-account", ACCOUNT)
    api(investor, "PUT", "/me/bank-account", {"holder_name": "Mari M", "iban": "EE38 2200 2210 2014 5685"})
    assert db.session.scalars(select(BankAccount.iban)).all() == ["EE382200221020145685"]


@pytest.mark.parametrize("iban", [
    "DE89 3704 0044 0532 0130 01",  # checksum
    "DE89 3704 0044 0532 0130",  # length
    "XX89 3704 0044 0532 0130 00",  # country
    "",
    "not an iban",
])
def test_a_bad_iban_is_422_naming_iban_and_stores_nothing(api, investor, iban):
    body = assert_problem(api(investor, "PUT", "/me/bank-account", {"holder_name": "Mari", "iban": iban}), 422,
                          "iban")
    assert body["errors"]["iban"]
    assert db.session.scalar(select(func.count()).select_from(BankAccount)) == 0


@pytest.mark.parametrize("body, field", [
    ({"iban": GOOD_IBAN}, "holder_name"),
    ({"holder_name": "Mari", "iban": GOOD_IBAN, "bic": "NOTABIC!"}, "bic"),
    ({"holder_name": "Mari", "iban": 12345}, "iban"),
    ({"holder_name": "Ma\x00ri", "iban": GOOD_IBAN}, "holder_name"),
])
def test_other_bad_bank_account_fields_are_422_naming_them(api, investor, body, field):
    assert_problem(api(investor, "PUT", "/me/bank-account", body), 422, field)
    assert db.session.scalar(select(func.count()).select_from(BankAccount)) == 0


def test_a_body_that_is_not_a_json_object_is_400(client, api_token, investor):
    response = client.put("/api/v1/me/bank-account", data="[1]", content_type="application/json",
                          headers=api_token(investor.email))
    assert_problem(response, 400)


# --- withdrawals ------------------------------------------------------------------------------


def test_a_withdrawal_takes_the_amount_from_available_at_once(api, investor):
    with_account(api, investor, 500_00)
    response = api(investor, "POST", "/me/withdrawals", {"amount": 500_00, "currency": "EUR"})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["amount"], body["currency"], body["status"]) == (500_00, "EUR", "requested")
    assert wallet(investor) == 0
    listed = api(investor, "GET", "/me/withdrawals").get_json()
    assert [w["id"] for w in listed["items"]] == [body["id"]] and listed["total"] == 1


@pytest.mark.parametrize("body, field", [
    ({"amount": 500_01, "currency": "EUR"}, "amount"),
    ({"amount": 0, "currency": "EUR"}, "amount"),
    ({"amount": -5_00, "currency": "EUR"}, "amount"),
    ({"amount": 10.5, "currency": "EUR"}, "amount"),
    ({"amount": "100", "currency": "EUR"}, "amount"),
    ({"amount": True, "currency": "EUR"}, "amount"),
    ({"amount": 100_00, "currency": "SEK"}, "currency"),
    ({"amount": 100_00}, "currency"),
])
def test_a_bad_withdrawal_is_422_and_moves_nothing(api, investor, body, field):
    with_account(api, investor, 500_00)
    assert_problem(api(investor, "POST", "/me/withdrawals", body), 422, field)
    assert withdrawals() == 0 and wallet(investor) == 500_00


def test_a_withdrawal_in_a_currency_without_a_wallet_is_422_naming_currency(api, investor):
    with_account(api, investor, 500_00)
    assert_problem(api(investor, "POST", "/me/withdrawals", {"amount": 1_00, "currency": "PLN"}), 422, "currency")
    assert withdrawals() == 0


def test_a_withdrawal_without_a_bank_account_is_409(api, investor):
    credit_wallet(500_00, user=investor)
    assert_problem(api(investor, "POST", "/me/withdrawals", {"amount": 100_00, "currency": "EUR"}), 409)
    assert withdrawals() == 0 and wallet(investor) == 500_00


def test_the_same_key_twice_withdraws_once(api, investor):
    with_account(api, investor, 500_00)
    body = {"amount": 200_00, "currency": "EUR"}
    first = api(investor, "POST", "/me/withdrawals", body, key="w-1")
    again = api(investor, "POST", "/me/withdrawals", body, key="w-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert withdrawals() == 1 and wallet(investor) == 300_00
    assert_problem(api(investor, "POST", "/me/withdrawals", {"amount": 100_00, "currency": "EUR"}, key="w-1"),
                   422, "Idempotency-Key")


def test_a_second_withdrawal_cannot_spend_the_same_money(api, investor):
    with_account(api, investor, 500_00)
    assert api(investor, "POST", "/me/withdrawals", {"amount": 400_00, "currency": "EUR"}).status_code == 201
    assert_problem(api(investor, "POST", "/me/withdrawals", {"amount": 400_00, "currency": "EUR"}), 422, "amount")
    assert withdrawals() == 1


def test_investors_see_only_their_own_withdrawals(api, investor):
    with_account(api, investor, 500_00)
    api(investor, "POST", "/me/withdrawals", {"amount": 100_00, "currency": "EUR"})
    other = UserFactory(roles=["investor"])
    assert api(other, "GET", "/me/withdrawals").get_json()["total"] == 0


# --- payment files ----------------------------------------------------------------------------

PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.03}"


def test_a_batch_puts_every_requested_withdrawal_in_one_pain001_file(api, investor, operator):
    with_account(api, investor, 500_00)
    ids = [api(investor, "POST", "/me/withdrawals", {"amount": a, "currency": "EUR"}).get_json()["id"]
           for a in (100_00, 150_00)]
    response = api(operator, "POST", "/withdrawals/batches", {"currency": "EUR"})
    assert response.status_code == 201
    batch = response.get_json()
    assert (batch["count"], batch["total"], batch["currency"]) == (2, 250_00, "EUR")
    listed = api(investor, "GET", "/me/withdrawals").get_json()["items"]
    assert {w["status"] for w in listed} == {"sent"}
    xml = api(operator, "GET", batch["file_url"].removeprefix("/api/v1"))
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    tree = etree.fromstring(xml.data)
    assert sorted(e.text for e in tree.iter(f"{PAIN}EndToEndId")) == sorted(f"GRW-{i}" for i in ids)
    assert tree.findtext(f".//{PAIN}CtrlSum") == "250.00"
    # Nothing left to pay: a second batch is a 409 and no withdrawal is sent twice.
    assert_problem(api(operator, "POST", "/withdrawals/batches", {"currency": "EUR"}), 409)


def test_investors_cannot_create_or_read_payment_files(api, investor, operator):
    with_account(api, investor, 500_00)
    api(investor, "POST", "/me/withdrawals", {"amount": 100_00, "currency": "EUR"})
    assert_problem(api(investor, "POST", "/withdrawals/batches", {"currency": "EUR"}), 403)
    batch = api(operator, "POST", "/withdrawals/batches", {}).get_json()
    assert_problem(api(investor, "GET", batch["file_url"].removeprefix("/api/v1")), 403)
    assert_problem(api(operator, "GET", "/withdrawals/batches/999999/file"), 404)


def test_a_batch_in_an_unknown_currency_is_422(api, operator):
    assert_problem(api(operator, "POST", "/withdrawals/batches", {"currency": "XYZ"}), 422, "currency")


def test_withdrawal_e_mails_are_written_in_the_investors_language(api, investor, operator):
    from app.notifications.models import OutboxMessage

    investor.locale = "ru"
    db.session.commit()
    with_account(api, investor, 500_00)
    api(investor, "POST", "/me/withdrawals", {"amount": 100_00, "currency": "EUR"})
    api(operator, "POST", "/withdrawals/batches", {"currency": "EUR"})
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "withdrawal_sent")).one()
    assert mail.subject == "Ваш вывод средств отправлен" and "DE89" in mail.body
