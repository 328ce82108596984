"""Repayments through the API: the schedule, paying by hand once whatever is retried, the
mandate, and collection on the due date by ``run-due``."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.campaigns.models import Campaign
from app.extensions import db
from app.jobs.registry import run_due
from app.loans.models import Instalment, Loan
from app.notifications.models import OutboxMessage
from app.payments import ledger
from tests.factories import UserFactory
from tests.loans.conftest import due_instalment
from tests.payments.test_api_pledges import assert_problem


def owner_of(instalment: Instalment):
    return db.session.get(Campaign, instalment.loan.campaign_id).owner


def fresh(instalment: Instalment) -> Instalment:
    db.session.expire_all()
    return db.session.get(Instalment, instalment.id)


def instalment_charges(sandbox, instalment) -> list[str]:
    return [key for op, key in sandbox.calls if op == "charge" and key.startswith(f"instalment-{instalment.id}-")]


def mails(kind: str) -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == kind))


@pytest.fixture
def call(client, api_token):
    def send(user, method: str, path: str, json=None, *, key: str | None = None):
        headers = api_token(user.email)
        if key is not None:
            headers["Idempotency-Key"] = key
        return client.open(f"/api/v1{path}", method=method, json=json, headers=headers)
    return send


# --- the schedule -----------------------------------------------------------------------------


def test_the_owner_and_the_operator_read_the_schedule(call):
    instalment = due_instalment()
    campaign_id = instalment.loan.campaign_id
    rows = call(owner_of(instalment), "GET", f"/campaigns/{campaign_id}/instalments").get_json()
    assert [r["number"] for r in rows] == list(range(1, 7))
    first = rows[0]
    assert (first["status"], first["amount"]) == ("due", first["principal"] + first["interest"])
    assert first["due_on"] == instalment.due_at.date().isoformat() and first["paid_at"] is None
    assert {r["status"] for r in rows[1:]} == {"scheduled"}
    operator = UserFactory(roles=["operator"])
    assert call(operator, "GET", f"/campaigns/{campaign_id}/instalments").get_json() == rows


def test_another_owner_gets_404_and_an_investor_403(call):
    instalment = due_instalment()
    campaign_id = instalment.loan.campaign_id
    assert_problem(call(UserFactory(roles=["owner"]), "GET", f"/campaigns/{campaign_id}/instalments"), 404)
    assert_problem(call(UserFactory(roles=["investor"]), "GET", f"/campaigns/{campaign_id}/instalments"), 403)


def test_a_campaign_without_a_loan_has_an_empty_schedule(call):
    from tests.factories import CampaignFactory

    campaign = CampaignFactory()
    assert call(campaign.owner, "GET", f"/campaigns/{campaign.id}/instalments").get_json() == []


# --- paying by hand ---------------------------------------------------------------------------


def test_paying_an_instalment_distributes_it_and_the_same_key_again_is_a_replay(call, sandbox, clock):
    instalment = due_instalment()
    clock["now"] = instalment.due_at + timedelta(days=1)
    owner = owner_of(instalment)
    body = {"payment_method": "pm_card_visa"}
    paid = call(owner, "POST", f"/instalments/{instalment.id}/pay", body, key="pay-1")
    assert paid.status_code == 200 and paid.get_json()["status"] == "paid"
    again = call(owner, "POST", f"/instalments/{instalment.id}/pay", body, key="pay-1")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert len(instalment_charges(sandbox, instalment)) == 1
    assert_problem(call(owner, "POST", f"/instalments/{instalment.id}/pay", {"payment_method": "pm_card_mastercard"},
                        key="pay-1"), 422, "Idempotency-Key")
    assert_problem(call(owner, "POST", f"/instalments/{instalment.id}/pay", body, key="pay-2"), 409)
    assert_problem(call(owner, "POST", f"/instalments/{instalment.id}/pay", body), 409)
    assert len(instalment_charges(sandbox, instalment)) == 1


def test_a_declined_payment_is_402_and_the_instalment_stays_due(call, clock):
    instalment = due_instalment()
    clock["now"] = instalment.due_at + timedelta(days=1)
    response = call(owner_of(instalment), "POST", f"/instalments/{instalment.id}/pay",
                    {"payment_method": "pm_card_chargeDeclined"})
    assert_problem(response, 402)
    assert fresh(instalment).status == "due"


def test_an_instalment_not_yet_due_is_409(call, clock):
    instalment = due_instalment()
    second = instalment.loan.instalments[1]
    assert_problem(call(owner_of(instalment), "POST", f"/instalments/{second.id}/pay",
                        {"payment_method": "pm_card_visa"}), 409)


@pytest.mark.parametrize("body, status, field", [
    ({}, 422, "payment_method"),
    ({"payment_method": ""}, 422, "payment_method"),
    ({"payment_method": "pm_card_nonsense"}, 422, "payment_method"),
    ({"payment_method": 42}, 422, "payment_method"),
])
def test_a_bad_payment_body_is_refused_and_charges_nothing(call, sandbox, clock, body, status, field):
    instalment = due_instalment()
    assert_problem(call(owner_of(instalment), "POST", f"/instalments/{instalment.id}/pay", body), status, field)
    assert instalment_charges(sandbox, instalment) == [] and fresh(instalment).status == "due"


def test_another_owners_instalment_is_404_and_an_investor_gets_403(call, sandbox):
    instalment = due_instalment()
    body = {"payment_method": "pm_card_visa"}
    assert_problem(call(UserFactory(roles=["owner"]), "POST", f"/instalments/{instalment.id}/pay", body), 404)
    assert_problem(call(UserFactory(roles=["investor"]), "POST", f"/instalments/{instalment.id}/pay", body), 403)
    assert_problem(call(UserFactory(roles=["owner"]), "POST", "/instalments/99999999/pay", body), 404)
    assert instalment_charges(sandbox, instalment) == []


# --- the mandate and collection ----------------------------------------------------------------


def set_mandate(call, instalment, method: str | None = "pm_card_visa"):
    return call(owner_of(instalment), "PUT", f"/campaigns/{instalment.loan.campaign_id}/repayment-mandate",
                {"payment_method": method})


def test_a_mandate_is_stored_replaced_and_removed(call):
    instalment = due_instalment()
    response = set_mandate(call, instalment)
    assert response.status_code == 200
    assert response.get_json()["payment_method"] == "pm_card_visa" and response.get_json()["set_at"]
    assert set_mandate(call, instalment, "pm_card_mastercard").get_json()["payment_method"] == "pm_card_mastercard"
    removed = set_mandate(call, instalment, None).get_json()
    assert (removed["payment_method"], removed["set_at"]) == (None, None)


@pytest.mark.parametrize("method", ["pm_card_authenticationRequired", "pm_unknown", "", 7])
def test_a_mandate_the_gateway_cannot_collect_from_is_422_and_stores_nothing(call, method):
    instalment = due_instalment()
    assert_problem(set_mandate(call, instalment, method), 422, "payment_method")
    db.session.expire_all()
    assert db.session.get(Campaign, instalment.loan.campaign_id).repayment_mandate is None


def test_only_the_campaigns_owner_sets_its_mandate(call):
    instalment = due_instalment()
    path = f"/campaigns/{instalment.loan.campaign_id}/repayment-mandate"
    assert_problem(call(UserFactory(roles=["owner"]), "PUT", path, {"payment_method": "pm_card_visa"}), 404)
    assert_problem(call(UserFactory(roles=["investor"]), "PUT", path, {"payment_method": "pm_card_visa"}), 403)
    assert_problem(call(UserFactory(roles=["operator"]), "PUT", path, {"payment_method": "pm_card_visa"}), 403)


def test_run_due_collects_a_due_instalment_once_from_the_mandate(call, sandbox):
    instalment = due_instalment()
    set_mandate(call, instalment)
    at = instalment.due_at + timedelta(hours=2)
    run_due(at, skip={"send e-mail"})
    run_due(at + timedelta(minutes=5), skip={"send e-mail"})  # a second scheduler the same day
    assert fresh(instalment).status == "paid"
    assert instalment_charges(sandbox, instalment) == [f"instalment-{instalment.id}-charge-mandate-{at.date()}"]
    assert mails("instalment_collected") == 1


def test_a_declined_collection_leaves_it_due_tells_the_owner_and_retries_the_next_day(call, sandbox):
    instalment = due_instalment()
    set_mandate(call, instalment, "pm_card_chargeDeclined")
    at = instalment.due_at + timedelta(hours=2)
    run_due(at, skip={"send e-mail"})
    run_due(at + timedelta(hours=1), skip={"send e-mail"})
    assert fresh(instalment).status == "due" and len(instalment_charges(sandbox, instalment)) == 1
    assert mails("instalment_declined") == 1
    set_mandate(call, instalment, "pm_card_visa")  # the owner replaces the card
    run_due(at + timedelta(days=1), skip={"send e-mail"})
    assert fresh(instalment).status == "paid" and len(instalment_charges(sandbox, instalment)) == 2


def test_a_loan_run_only_through_the_api_and_run_due_ends_completed_with_every_cent_in_the_wallets(call, runner):
    instalment = due_instalment()
    set_mandate(call, instalment)
    loan_id = instalment.loan.id
    dues = [i.due_at for i in instalment.loan.instalments]
    for due in dues:
        result = runner.invoke(args=["jobs", "run-due", "--now", (due + timedelta(hours=1)).isoformat()])
        assert result.exit_code == 0, result.output
    db.session.expire_all()
    loan = db.session.get(Loan, loan_id)
    assert loan.status == "completed"
    total = sum(i.total for i in loan.instalments)
    held = sum(ledger.balance(a) for a in db.session.scalars(
        select(ledger.LedgerAccount).where(ledger.LedgerAccount.kind == "investor_funds")))
    assert held == total


# --- the owner's page ---------------------------------------------------------------------------


def test_the_owner_saves_replaces_and_removes_the_mandate_on_the_campaign_page(client, auth):
    from tests.conftest import post_form

    instalment = due_instalment()
    campaign_id = instalment.loan.campaign_id
    owner = owner_of(instalment)
    auth.login(owner.email)
    page = f"/campaigns/{campaign_id}"
    assert "Save the payment method" in client.get(page).get_data(as_text=True)
    post_form(client, f"/loans/campaigns/{campaign_id}/mandate", {"payment_method": "pm_card_visa"}, page=page)
    html = client.get(page).get_data(as_text=True)
    assert "collected on its due date from Visa" in html and "Remove: I will pay by hand" in html
    post_form(client, f"/loans/campaigns/{campaign_id}/mandate", {"payment_method": "pm_card_authenticationRequired"},
              page=page)
    assert "cannot be used for automatic collection" in client.get(page).get_data(as_text=True)
    post_form(client, f"/loans/campaigns/{campaign_id}/mandate", {"remove": "1"}, page=page)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign_id).repayment_mandate is None
    other = UserFactory(roles=["owner"])
    auth.logout()
    auth.login(other.email)
    assert post_form(client, f"/loans/campaigns/{campaign_id}/mandate", {"payment_method": "pm_card_visa"},
                     page="/campaigns/mine").status_code == 404
