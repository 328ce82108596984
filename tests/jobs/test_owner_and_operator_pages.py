"""The owner's money pages (pledges received, payout, schedule, paying) and the operator's payouts."""

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.loans.models import Loan
from app.settlement.models import Payout, PayoutAccount
from tests.conftest import csrf_from, post_form
from tests.factories import NOW, CampaignFactory, UserFactory
from tests.jobs.test_rounds_and_loans import pledge, results
from tests.payments.conftest import make_ready_investor


def funded_loan(owner):
    campaign = CampaignFactory(owner=owner, target_amount=1_000_00, max_amount=1_000_00, term_months=6)
    pledge(make_ready_investor(classification="sophisticated", email="secret.investor@example.org"), campaign,
           1_000_00)
    results(NOW + timedelta(minutes=1))
    return campaign, db.session.scalar(select(Loan))


def test_owner_sees_amounts_not_investors_and_pays_a_due_instalment(client, auth, clock):
    owner = UserFactory(email="owner@example.org", roles=["owner"])
    campaign, loan = funded_loan(owner)
    first = loan.instalments[0]
    results(first.due_at + timedelta(hours=1))
    clock["now"] = first.due_at + timedelta(hours=2)
    auth.login("owner@example.org")
    page = f"/campaigns/{campaign.id}"
    html = client.get(page).get_data(as_text=True)
    assert "Pledges received" in html and "€1,000.00" in html
    assert "secret.investor" not in html
    assert "Repayment schedule" in html and "Waiting for the bank transfer" in html
    response = post_form(client, f"/loans/instalments/{first.id}/pay", {"payment_method": "pm_card_visa"}, page=page)
    assert response.status_code == 302
    assert first.status == "paid"
    assert "paid and distributed" in client.get(page).get_data(as_text=True)


def test_a_declined_card_leaves_the_instalment_due(client, auth, clock):
    owner = UserFactory(email="owner@example.org", roles=["owner"])
    campaign, loan = funded_loan(owner)
    first = loan.instalments[0]
    results(first.due_at + timedelta(hours=1))
    auth.login("owner@example.org")
    page = f"/campaigns/{campaign.id}"
    post_form(client, f"/loans/instalments/{first.id}/pay",
              {"payment_method": "pm_card_chargeDeclined", "attempt": "a1"}, page=page)
    assert first.status == "due"
    assert "declined" in client.get(page).get_data(as_text=True)
    # a new attempt with another card is not answered with the first attempt's decline
    post_form(client, f"/loans/instalments/{first.id}/pay", {"payment_method": "pm_card_visa", "attempt": "a2"},
              page=page)
    assert first.status == "paid"
    # and the owner was asked to pay, the investor told what arrived
    from app.notifications.models import OutboxMessage

    kinds = set(db.session.scalars(select(OutboxMessage.kind)))
    assert {"instalment_due", "instalment_received"} <= kinds


def test_nobody_else_can_pay_or_see_an_owners_instalment(client, auth):
    owner = UserFactory(email="owner@example.org", roles=["owner"])
    _, loan = funded_loan(owner)
    UserFactory(email="other@example.org", roles=["owner"])
    auth.login("other@example.org")
    html = client.get("/").get_data(as_text=True)
    response = client.post(f"/loans/instalments/{loan.instalments[0].id}/pay",
                           data={"csrf_token": csrf_from(html), "payment_method": "pm_card_visa"})
    assert response.status_code == 404
    auth.logout()
    UserFactory(email="inv@example.org", roles=["investor"])
    auth.login("inv@example.org")
    html = client.get("/").get_data(as_text=True)
    assert client.post(f"/loans/instalments/{loan.instalments[0].id}/pay",
                       data={"csrf_token": csrf_from(html), "payment_method": "pm_card_visa"}).status_code == 403


def test_operator_records_a_bank_transfer_from_the_payouts_page(client, auth):
    owner = UserFactory(email="owner@example.org", roles=["owner"])
    funded_loan(owner)
    payout = db.session.scalar(select(Payout))
    UserFactory(email="op@example.org", roles=["operator"])
    auth.login("op@example.org")
    assert "€970.00" in client.get("/settlement/payouts").get_data(as_text=True)
    post_form(client, f"/settlement/payouts/{payout.id}/bank-transfer", {"reference": ""}, page="/settlement/payouts")
    assert payout.status == "awaiting_bank_transfer"
    post_form(client, f"/settlement/payouts/{payout.id}/bank-transfer", {"reference": "SEPA-2026-42"},
              page="/settlement/payouts")
    assert payout.status == "sent" and payout.reference == "SEPA-2026-42"
    assert "No payout is waiting" in client.get("/settlement/payouts").get_data(as_text=True)


def test_owner_connects_a_payout_account_once(client, auth):
    UserFactory(email="owner@example.org", roles=["owner"])
    auth.login("owner@example.org")
    post_form(client, "/settlement/payout-account", {}, page="/campaigns/mine")
    post_form(client, "/settlement/payout-account", {}, page="/campaigns/mine")
    accounts = db.session.scalars(select(PayoutAccount)).all()
    assert len(accounts) == 1 and accounts[0].account_reference.startswith("acct_sbx_")
