"""Pledges paid from the wallet (at once, no gateway) and by bank transfer (when a statement shows it)."""

from datetime import timedelta

import pytest
from schwifty import IBAN
from sqlalchemy import select
from stdnum import iso11649

from app.extensions import db
from app.notifications.models import OutboxMessage
from app.payments import ledger, services
from app.payments.jobs import expire_unpaid
from app.payments.models import Pledge
from app.settlement.jobs import refund_rounds_to_wallets
from tests.factories import NOW
from tests.payments.conftest import fresh, make_fund_manager, make_ready_investor
from tests.payments.test_api_pledges import assert_problem, pledge_count
from tests.payments.test_views import pledge_form, submit

WALLET = {"amount": 500_00, "payment_method": "wallet"}
TRANSFER = {"amount": 500_00, "payment_method": "bank_transfer"}


def credit_wallet(amount: int, *, user=None, fund=None, currency: str = "EUR") -> None:
    """Money in the wallet as a repayment puts it there (Dr gateway clearing, Cr the investor's funds)."""
    owner = ledger.investor_funds(currency, user_id=user.id if user else None, fund_id=fund.id if fund else None)
    ledger.post("Test repayment", [(ledger.gateway_clearing(currency), amount), (owner, -amount)], now=NOW,
                idempotency_key=f"test-credit-{owner.owner_type}-{owner.owner_id}-{amount}")
    db.session.commit()


def wallet(user=None, fund=None) -> int:
    return ledger.balance(ledger.investor_funds("EUR", user_id=user.id if user else None,
                                                fund_id=fund.id if fund else None))


# --- the wallet -------------------------------------------------------------------------------------


def test_a_wallet_pledge_is_paid_at_once_without_the_gateway(investor, campaign, pledge_api, sandbox):
    credit_wallet(800_00, user=investor)
    response = pledge_api(investor, campaign, WALLET)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "paid" and body["payment_method"] == "wallet" and body["payment_instructions"] is None
    assert sandbox.charges_made == 0
    assert wallet(investor) == 300_00
    c = fresh(campaign)
    assert (c.raised_amount, c.reserved_amount, c.backers_count) == (500_00, 0, 1)
    assert ledger.escrow_balance(campaign.id) == 500_00


def test_a_wallet_pledge_above_the_balance_is_422_naming_amount_and_writes_nothing(investor, campaign,
                                                                                    pledge_api):
    credit_wallet(499_99, user=investor)
    body = assert_problem(pledge_api(investor, campaign, WALLET), 422, "amount")
    assert "499.99" in body["detail"]
    assert pledge_count() == 0 and wallet(investor) == 499_99
    assert (fresh(campaign).reserved_amount, fresh(campaign).raised_amount) == (0, 0)


def test_an_empty_wallet_refuses_and_the_second_pledge_cannot_spend_the_same_money(investor, campaign,
                                                                                    pledge_api):
    assert_problem(pledge_api(investor, campaign, WALLET), 422, "amount")
    credit_wallet(700_00, user=investor)
    assert pledge_api(investor, campaign, WALLET).status_code == 201
    assert_problem(pledge_api(investor, campaign, WALLET), 422, "amount")
    assert wallet(investor) == 200_00 and pledge_count() == 1


def test_a_revoked_wallet_pledge_goes_back_to_the_wallet(investor, campaign, pledge_api, client, api_token,
                                                         sandbox):
    credit_wallet(500_00, user=investor)
    pledge_id = pledge_api(investor, campaign, WALLET).get_json()["id"]
    revoked = client.post(f"/api/v1/pledges/{pledge_id}/revoke", headers=api_token(investor.email))
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "refunded"
    assert sandbox.refunds_made == 0 and wallet(investor) == 500_00
    assert ledger.escrow_balance(campaign.id) == 0 and fresh(campaign).raised_amount == 0


def test_a_fund_managers_wallet_pledge_spends_the_funds_wallet(campaign, pledge_api):
    manager, fund = make_fund_manager()
    credit_wallet(600_00, user=manager)  # the manager's own money is not the fund's
    assert_problem(pledge_api(manager, campaign, WALLET), 422, "amount")
    credit_wallet(600_00, fund=fund)
    assert pledge_api(manager, campaign, WALLET).status_code == 201
    assert wallet(fund=fund) == 100_00 and wallet(manager) == 600_00


def test_a_failed_rounds_wallet_pledge_is_refunded_to_the_wallet(investor, campaign, pledge_api, sandbox):
    credit_wallet(500_00, user=investor)
    pledge_id = pledge_api(investor, campaign, WALLET).get_json()["id"]
    campaign.status = "failed"
    db.session.commit()
    assert refund_rounds_to_wallets.run(NOW).done == 1
    assert db.session.get(Pledge, pledge_id).status == "refunded"
    assert wallet(investor) == 500_00 and sandbox.refunds_made == 0
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"refund-{pledge_id}")).one()
    assert "back in your wallet" in mail.body


# --- bank transfer --------------------------------------------------------------------------------------


def test_a_bank_transfer_pledge_waits_with_instructions_and_holds_its_room(investor, campaign, pledge_api,
                                                                           sandbox, app):
    response = pledge_api(investor, campaign, TRANSFER)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending_payment" and sandbox.charges_made == 0
    instructions = body["payment_instructions"]
    assert set(instructions) == {"beneficiary", "iban", "bic", "reference", "amount", "currency", "pay_by"}
    assert iso11649.is_valid(instructions["reference"])
    assert IBAN(instructions["iban"]).bic == instructions["bic"]
    assert (instructions["amount"], instructions["currency"]) == (500_00, "EUR")
    assert instructions["pay_by"] == (NOW + timedelta(days=app.config["BANK_TRANSFER_DAYS"])).isoformat()
    c = fresh(campaign)
    assert (c.raised_amount, c.reserved_amount) == (0, 500_00)
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "payment_instructions")).one()
    assert instructions["reference"] in mail.body and instructions["iban"] in mail.body
    pledge = db.session.get(Pledge, body["id"])
    assert "<svg" in services.qr_svg(pledge)


def test_a_ru_deployments_instructions_name_the_nominal_account(investor, campaign, app):
    pledge = services.create_pledge(investor, campaign.id, TRANSFER, now=NOW).pledge
    app.config["PLATFORM_JURISDICTION"] = "RU"
    try:
        found = services.instructions(pledge)
    finally:
        app.config["PLATFORM_JURISDICTION"] = "EU"
    assert {"account", "bik", "correspondent_account", "inn"} <= set(found) and "iban" not in found
    assert len(found["account"]) == 20


def test_a_transfer_of_the_exact_amount_pays_the_pledge_and_starts_the_reflection_period(investor, campaign):
    pledge = services.create_pledge(investor, campaign.id, TRANSFER, now=NOW).pledge
    paid_at = NOW + timedelta(days=2)
    found = services.pledge_for_reference(pledge.payment_reference)
    assert not services.settle_transfer(found, amount=499_99, currency="EUR", now=paid_at)
    assert not services.settle_transfer(found, amount=500_00, currency="RUB", now=paid_at)
    assert services.settle_transfer(found, amount=500_00, currency="EUR", now=paid_at)
    db.session.commit()
    assert not services.settle_transfer(fresh(pledge), amount=500_00, currency="EUR", now=paid_at)  # never twice
    pledge = fresh(pledge)
    assert pledge.status == "paid" and pledge.paid_at == paid_at
    assert pledge.reflection_ends_at == paid_at + timedelta(days=4)
    assert ledger.balance(ledger.bank_clearing("EUR")) == 500_00 and ledger.escrow_balance(campaign.id) == 500_00
    c = fresh(campaign)
    assert (c.raised_amount, c.reserved_amount, c.backers_count) == (500_00, 0, 1)


def test_an_unpaid_bank_transfer_expires_at_its_pay_by_time_and_is_then_never_paid(investor, campaign, app):
    pledge = services.create_pledge(investor, campaign.id, TRANSFER, now=NOW).pledge
    days = app.config["BANK_TRANSFER_DAYS"]
    assert expire_unpaid.run(NOW + timedelta(hours=1)).done == 0  # not the card's 30 minutes
    assert expire_unpaid.run(NOW + timedelta(days=days, seconds=-1)).done == 0
    assert expire_unpaid.run(NOW + timedelta(days=days)).done == 1
    assert fresh(pledge).status == "expired" and fresh(campaign).reserved_amount == 0
    assert not services.settle_transfer(fresh(pledge), amount=500_00, currency="EUR", now=NOW + timedelta(days=6))
    assert ledger.balance(ledger.bank_clearing("EUR")) == 0


def test_a_revoked_bank_transfer_pledge_goes_to_the_wallet(investor, campaign, client, api_token, sandbox):
    pledge = services.create_pledge(investor, campaign.id, TRANSFER, now=NOW).pledge
    assert services.settle_transfer(pledge, amount=500_00, currency="EUR", now=NOW)
    db.session.commit()
    revoked = client.post(f"/api/v1/pledges/{pledge.id}/revoke", headers=api_token(investor.email))
    assert revoked.get_json()["status"] == "refunded" and sandbox.refunds_made == 0
    assert wallet(investor) == 500_00


def test_the_same_key_returns_the_same_bank_transfer_pledge(investor, campaign, pledge_api):
    first = pledge_api(investor, campaign, TRANSFER, key="bt-1").get_json()
    again = pledge_api(investor, campaign, TRANSFER, key="bt-1").get_json()
    assert again["id"] == first["id"] and again["payment_instructions"] == first["payment_instructions"]
    assert pledge_count() == 1 and fresh(campaign).reserved_amount == 500_00


def test_another_investor_cannot_read_the_instructions(investor, campaign, pledge_api, client, api_token):
    pledge_id = pledge_api(investor, campaign, TRANSFER).get_json()["id"]
    other = make_ready_investor()
    assert client.get(f"/api/v1/pledges/{pledge_id}", headers=api_token(other.email)).status_code == 404


@pytest.mark.parametrize("method", ["Wallet", "bank", "wallet "])
def test_a_near_miss_of_a_payment_method_is_unknown(investor, campaign, pledge_api, method):
    assert_problem(pledge_api(investor, campaign, {"amount": 500_00, "payment_method": method}), 422,
                   "payment_method")
    assert pledge_count() == 0


# --- the pages ----------------------------------------------------------------------------------------


def test_the_pledge_form_offers_the_wallet_and_a_bank_transfer(client, auth, investor, campaign):
    auth.login(investor.email)
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'value="wallet"' in html and 'value="bank_transfer"' in html
    response = submit(client, campaign, pledge_form(client, campaign), amount="500", payment_method="wallet")
    assert response.status_code == 422 and "wallet holds" in response.get_data(as_text=True)
    assert pledge_count() == 0


def test_a_bank_transfer_from_the_form_shows_the_instructions_and_the_qr_code(client, auth, investor, campaign):
    auth.login(investor.email)
    response = submit(client, campaign, pledge_form(client, campaign), amount="500", payment_method="bank_transfer")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    pledge = db.session.scalars(select(Pledge)).one()
    assert pledge.payment_reference in page and "EE382200221020145685" in page
    assert "<svg" in page and "waits for your bank transfer" in page
    auth.logout()
    auth.login(make_ready_investor().email)
    assert client.get(response.headers["Location"]).status_code == 404



def test_the_instructions_e_mail_is_in_the_investors_language(investor, campaign):
    investor.locale = "ru"
    db.session.commit()
    pledge = services.create_pledge(investor, campaign.id, TRANSFER, now=NOW).pledge
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "payment_instructions")).one()
    assert mail.subject == f"Реквизиты для оплаты: обязательство {pledge.id}"
    assert "Пожалуйста, переведите" in mail.body and pledge.payment_reference in mail.body
    assert "EE382200221020145685" in mail.body


def test_the_language_switch_sets_the_language_of_a_users_e_mails(client, auth, investor):
    from tests.conftest import csrf_from

    auth.login(investor.email)
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/language", data={"lang": "ru", "next": "/", "csrf_token": token}).status_code == 302
    assert fresh(investor).locale == "ru"


def test_a_bank_transfer_in_a_currency_the_account_does_not_hold_is_422_naming_payment_method(investor, pledge_api):
    from tests.factories import CampaignFactory

    sek = CampaignFactory(status="live", currency="SEK")
    body = assert_problem(pledge_api(investor, sek, TRANSFER), 422, "payment_method")
    assert "EUR only" in body["errors"]["payment_method"][0]
    assert pledge_count() == 0 and fresh(sek).reserved_amount == 0
