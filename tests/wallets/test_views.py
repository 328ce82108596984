"""The wallet pages: forms re-render with messages and lose nothing; a double click withdraws
once; the operator's payment-file pages are the operator's alone."""

import re

from sqlalchemy import func, select

from app.extensions import db
from app.wallets.models import BankAccount, Withdrawal
from tests.conftest import csrf_from, post_form
from tests.factories import UserFactory
from tests.payments.test_wallet_and_transfer_pledges import credit_wallet, wallet


def token_of(html: str) -> str:
    return re.search(r'name="idempotency_token" type="hidden" value="([^"]+)"', html).group(1)


def save_account(client, iban="EE38 2200 2210 2014 5685", holder="Mari Maasikas"):
    return post_form(client, "/wallet/bank-account", {"holder_name": holder, "iban": iban, "bic": ""},
                     page="/wallet")


def test_an_empty_wallet_says_so_and_asks_for_a_bank_account(client, auth, investor):
    auth.login(investor.email)
    html = client.get("/wallet").get_data(as_text=True)
    assert "Your wallet is empty" in html and "Add the bank account" in html and "No movements yet" in html


def test_a_bad_iban_re_renders_with_the_message_and_keeps_what_was_typed(client, auth, investor):
    auth.login(investor.email)
    response = save_account(client, iban="EE38 2200 2210 2014 5686")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "EE38 2200 2210 2014 5686" in html and "Mari Maasikas" in html
    assert db.session.scalar(select(func.count()).select_from(BankAccount)) == 0


def test_withdrawing_in_the_browser_reserves_the_amount_and_lists_the_withdrawal(client, auth, investor):
    credit_wallet(300_00, user=investor)
    auth.login(investor.email)
    assert save_account(client).status_code == 302
    html = client.get("/wallet").get_data(as_text=True)
    data = {"amount": "120,50", "currency": "EUR", "idempotency_token": token_of(html), "csrf_token": csrf_from(html)}
    assert client.post("/wallet/withdrawals", data=data).status_code == 302
    assert client.post("/wallet/withdrawals", data=data).status_code == 302  # a double click
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 1
    assert wallet(investor) == 179_50
    page = client.get("/wallet").get_data(as_text=True)
    assert "Requested" in page and "€120.50" in page


def test_a_withdrawal_above_the_balance_re_renders_with_the_message(client, auth, investor):
    credit_wallet(100_00, user=investor)
    auth.login(investor.email)
    save_account(client)
    for amount, says in (("100.01", "more than your available balance"), ("abc", "Enter an amount"),
                         ("1.234", "at most 2 decimals"), ("0", "between 1 and"), ("-5", "Enter an amount"),
                         ("Infinity", "Enter an amount"), ("1e2", "Enter an amount"), ("١٠", "Enter an amount")):
        html = client.get("/wallet").get_data(as_text=True)
        response = client.post("/wallet/withdrawals", data={
            "amount": amount, "currency": "EUR", "idempotency_token": token_of(html), "csrf_token": csrf_from(html)})
        assert response.status_code == 422, amount
        assert says in response.get_data(as_text=True), amount
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 0 and wallet(investor) == 100_00


def test_the_portfolio_shows_the_wallet_card(client, auth, investor):
    credit_wallet(42_00, user=investor)
    auth.login(investor.email)
    html = client.get("/portfolio/", follow_redirects=True).get_data(as_text=True)
    assert "€42.00 available" in html and "/wallet" in html


def test_the_operator_sends_a_payment_file_and_downloads_it(client, auth, investor):
    credit_wallet(300_00, user=investor)
    auth.login(investor.email)
    save_account(client)
    html = client.get("/wallet").get_data(as_text=True)
    client.post("/wallet/withdrawals", data={"amount": "50", "currency": "EUR", "idempotency_token": token_of(html),
                                            "csrf_token": csrf_from(html)})
    auth.logout()
    operator = UserFactory(roles=["operator"])
    auth.login(operator.email)
    page = client.get("/operator/withdrawals").get_data(as_text=True)
    assert "€50.00" in page
    assert post_form(client, "/operator/withdrawals/batches", {"currency": "EUR"},
                     page="/operator/withdrawals").status_code == 302
    page = client.get("/operator/withdrawals").get_data(as_text=True)
    assert "No withdrawal is waiting" in page and "GRB-" in page
    batch_id = re.search(r"/operator/withdrawals/batches/(\d+)\.xml", page).group(1)
    xml = client.get(f"/operator/withdrawals/batches/{batch_id}.xml")
    assert xml.status_code == 200 and b"pain.001.001.03" in xml.data
    detail = client.get(f"/operator/withdrawals/batches/{batch_id}").get_data(as_text=True)
    assert "Sent, not yet on a statement" in detail


def test_investors_cannot_open_or_post_to_the_operators_pages(client, auth, investor):
    auth.login(investor.email)
    assert client.get("/operator/withdrawals").status_code == 403
    assert client.get("/operator/bank-statements").status_code == 403
    assert client.get("/operator/withdrawals/batches/1.xml").status_code == 403
    csrf = csrf_from(client.get("/wallet").get_data(as_text=True))
    for url in ("/operator/withdrawals/batches", "/operator/bank-statements", "/operator/statement-lines/1/match",
                "/operator/statement-lines/1/returned"):
        assert client.post(url, data={"csrf_token": csrf, "currency": "EUR", "pledge": "1"}).status_code == 403, url
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 0
