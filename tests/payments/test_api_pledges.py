"""POST /campaigns/<id>/pledges, GET /pledges, GET /pledges/<id>, POST /pledges/<id>/revoke."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.payments import ledger
from app.payments.ledger import LedgerTransaction
from app.payments.models import Pledge
from tests.factories import NOW, CampaignFactory, UserFactory
from tests.payments.conftest import fresh, make_fund_manager, make_ready_investor

VISA = {"amount": 500_00, "payment_method": "pm_card_visa"}


def pledge_count() -> int:
    return db.session.scalar(select(func.count(Pledge.id)))


def money_moved() -> int:
    return db.session.scalar(select(func.count(LedgerTransaction.id)))


def assert_problem(response, status: int, field: str | None = None):
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert field in body["errors"], body
    return body


# --- the happy path ---------------------------------------------------------------------------


def test_a_pledge_with_a_good_card_is_paid_counted_and_posted(investor, campaign, pledge_api, sandbox):
    response = pledge_api(investor, campaign, VISA)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "paid" and body["amount"] == 500_00 and body["currency"] == "EUR"
    assert body["campaign_id"] == campaign.id
    assert body["created_at"] == "2026-11-25T12:00:00+00:00"
    assert body["reflection_ends_at"] == "2026-11-29T12:00:00+00:00"  # 4 calendar days (ECSP Art. 22)
    assert response.headers["Location"].endswith(f"/api/v1/pledges/{body['id']}")
    c = fresh(campaign)
    assert (c.raised_amount, c.backers_count, c.reserved_amount) == (500_00, 1, 0)
    assert ledger.escrow_balance(campaign.id) == 500_00
    assert sandbox.charges_made == 1
    assert ("charge", f"pledge-{body['id']}-charge") in sandbox.calls


def test_the_pledge_records_the_kiis_version_the_investor_was_shown(investor, pledge_api):
    campaign = CampaignFactory(current_kiis_version=3)
    body = pledge_api(investor, campaign, {**VISA, "kiis_version": 3}).get_json()
    assert body["kiis_version"] == 3
    outdated = pledge_api(investor, campaign, {**VISA, "kiis_version": 2})
    assert_problem(outdated, 409, "kiis_version")


def test_sophisticated_investors_have_no_reflection_period(campaign, pledge_api):
    pro = make_ready_investor(classification="sophisticated")
    body = pledge_api(pro, campaign, VISA).get_json()
    assert body["status"] == "paid" and body["reflection_ends_at"] is None


def test_a_fund_managers_pledge_is_the_funds(campaign, pledge_api, api_token, client):
    manager, fund = make_fund_manager()
    body = pledge_api(manager, campaign, {**VISA, "amount": 50_000_00}).get_json()
    assert body["status"] == "paid" and body["fund_id"] == fund.id and body["reflection_ends_at"] is None
    assert ledger.balance(ledger.investor_funds("EUR", fund_id=fund.id)) == 0
    listed = client.get("/api/v1/pledges", headers=api_token(manager.email)).get_json()
    assert [p["id"] for p in listed["items"]] == [body["id"]]


# --- refusals: each a problem+json, no money moved, no pledge counted -------------------------


@pytest.mark.parametrize("amount", [0, -500, 10.5, 500.0, 10**30, "50000", True, None])
def test_bad_amounts_are_422_on_amount(investor, campaign, pledge_api, sandbox, amount):
    response = pledge_api(investor, campaign, {"amount": amount, "payment_method": "pm_card_visa"})
    assert_problem(response, 422, "amount")
    assert pledge_count() == 0 and money_moved() == 0 and sandbox.calls == []


def test_a_missing_amount_or_card_is_422(investor, campaign, pledge_api):
    body = assert_problem(pledge_api(investor, campaign, {}), 422)
    assert {"amount", "payment_method"} <= set(body["errors"])


def test_a_body_that_is_not_json_is_400(investor, campaign, client, api_token):
    response = client.post(f"/api/v1/campaigns/{campaign.id}/pledges", data="amount=5",
                           headers=api_token(investor.email))
    assert_problem(response, 400)


def test_an_unknown_payment_method_is_422_before_any_room_is_reserved(investor, campaign, pledge_api, sandbox):
    response = pledge_api(investor, campaign, {"amount": 500_00, "payment_method": "pm_card_bogus"})
    assert_problem(response, 422, "payment_method")
    assert pledge_count() == 0 and sandbox.calls == [] and fresh(campaign).reserved_amount == 0


def test_another_currency_than_the_campaigns_is_422(investor, campaign, pledge_api):
    response = pledge_api(investor, campaign, {**VISA, "currency": "SEK"})
    assert_problem(response, 422, "currency")
    assert pledge_count() == 0


def test_below_the_minimum_and_above_the_whole_round_are_422(investor, campaign, pledge_api):
    assert_problem(pledge_api(investor, campaign, {**VISA, "amount": 49_99}), 422, "amount")
    assert_problem(pledge_api(investor, campaign, {**VISA, "amount": campaign.max_amount + 1}), 422, "amount")
    assert pledge_count() == 0


def test_a_draft_campaign_is_404(investor, pledge_api):
    draft = CampaignFactory(status="draft")
    assert_problem(pledge_api(investor, draft, VISA), 404)
    assert pledge_count() == 0


@pytest.mark.parametrize("status, expected", [
    ("failed", 409), ("successful", 409), ("approved", 409), ("completed", 409),
    ("cancelled", 404),  # not public: as if it did not exist
])
def test_a_campaign_that_is_not_live_is_409(investor, pledge_api, status, expected):
    c = CampaignFactory(status=status)
    assert_problem(pledge_api(investor, c, VISA), expected)
    assert pledge_count() == 0 and money_moved() == 0


def test_a_live_campaign_past_its_closing_time_is_409(investor, pledge_api, clock):
    c = CampaignFactory(closes_at=NOW - timedelta(minutes=1))
    assert_problem(pledge_api(investor, c, VISA), 409, "campaign")
    assert pledge_count() == 0


def test_over_the_remaining_room_is_409_and_names_the_room(investor, pledge_api):
    c = CampaignFactory(target_amount=1_000_00, max_amount=1_000_00, raised_amount=800_00)
    body = assert_problem(pledge_api(investor, c, {**VISA, "amount": 300_00}), 409, "amount")
    assert "200.00" in body["detail"]
    assert pledge_count() == 0 and fresh(c).raised_amount == 800_00


def test_a_full_round_is_409(investor, pledge_api):
    c = CampaignFactory(target_amount=1_000_00, max_amount=1_000_00, raised_amount=1_000_00)
    body = assert_problem(pledge_api(investor, c, VISA), 409)
    assert "full" in body["detail"]


def test_an_owner_or_regulator_may_not_pledge(campaign, pledge_api):
    for role in ("owner", "regulator", "operator"):
        user = UserFactory(roles=[role])
        assert_problem(pledge_api(user, campaign, VISA), 403)
    assert pledge_count() == 0


def test_an_investor_not_yet_ready_is_403_with_the_missing_steps(campaign, pledge_api):
    newcomer = UserFactory(roles=["investor"])
    body = assert_problem(pledge_api(newcomer, campaign, VISA), 403, "readiness")
    assert body["errors"]["readiness"]
    assert pledge_count() == 0


def test_without_a_token_it_is_401(campaign, client):
    assert_problem(client.post(f"/api/v1/campaigns/{campaign.id}/pledges", json=VISA), 401)


def test_above_the_warning_threshold_the_risk_must_be_acknowledged(investor, campaign, pledge_api):
    # net worth 100,000.00 → threshold max(1,000, 5 %) = 5,000.00
    big = {**VISA, "amount": 6_000_00}
    body = assert_problem(pledge_api(investor, campaign, big), 422, "acknowledge_risk")
    assert "risk of losing the entirety" in body["detail"]
    assert pledge_count() == 0
    assert_problem(pledge_api(investor, campaign, {**big, "acknowledge_risk": "yes"}), 422, "acknowledge_risk")
    assert pledge_api(investor, campaign, {**big, "acknowledge_risk": True}).status_code == 201


# --- declines and 3-D Secure ---------------------------------------------------------------------


@pytest.mark.parametrize("pm, message", [
    ("pm_card_chargeDeclined", "Your card was declined."),
    ("pm_card_chargeDeclinedInsufficientFunds", "Your card has insufficient funds."),
])
def test_a_declined_card_is_402_and_the_room_is_released(investor, campaign, pledge_api, pm, message):
    response = pledge_api(investor, campaign, {"amount": 500_00, "payment_method": pm})
    body = assert_problem(response, 402, "payment_method")
    assert body["detail"] == message
    pledge = db.session.scalars(select(Pledge)).one()
    assert pledge.status == "failed" and pledge.failure_message == message
    c = fresh(campaign)
    assert (c.raised_amount, c.reserved_amount, c.backers_count) == (0, 0, 0)
    assert money_moved() == 0


def test_authentication_required_waits_for_confirmation_without_counting(investor, campaign, pledge_api):
    response = pledge_api(investor, campaign, {"amount": 500_00, "payment_method": "pm_card_authenticationRequired"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending_payment"
    assert body["next_action_url"].endswith(f"/payments/pledges/{body['id']}/authenticate")
    c = fresh(campaign)
    assert (c.raised_amount, c.reserved_amount, c.backers_count) == (0, 500_00, 0)
    assert money_moved() == 0


# --- idempotency -------------------------------------------------------------------------------


def test_the_same_key_and_body_return_the_first_result_without_a_second_charge(investor, campaign, pledge_api,
                                                                                 sandbox):
    first = pledge_api(investor, campaign, VISA, key="abc-1")
    again = pledge_api(investor, campaign, VISA, key="abc-1")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert pledge_count() == 1 and sandbox.charges_made == 1
    c = fresh(campaign)
    assert (c.raised_amount, c.backers_count) == (500_00, 1)


def test_the_same_key_with_another_body_is_422(investor, campaign, pledge_api, sandbox):
    pledge_api(investor, campaign, VISA, key="abc-2")
    response = pledge_api(investor, campaign, {**VISA, "amount": 600_00}, key="abc-2")
    assert_problem(response, 422, "Idempotency-Key")
    other_campaign = CampaignFactory()
    assert_problem(pledge_api(investor, other_campaign, VISA, key="abc-2"), 422, "Idempotency-Key")
    assert pledge_count() == 1 and sandbox.charges_made == 1


def test_a_replayed_decline_is_the_same_402(investor, campaign, pledge_api, sandbox):
    body = {"amount": 500_00, "payment_method": "pm_card_chargeDeclined"}
    first = pledge_api(investor, campaign, body, key="d-1")
    again = pledge_api(investor, campaign, body, key="d-1")
    assert first.status_code == again.status_code == 402
    assert first.get_json() == again.get_json()
    assert pledge_count() == 1 and len([c for c in sandbox.calls if c[0] == "charge"]) == 1


def test_keys_belong_to_one_investor(campaign, pledge_api):
    a, b = make_ready_investor(), make_ready_investor()
    assert pledge_api(a, campaign, VISA, key="shared").status_code == 201
    assert pledge_api(b, campaign, VISA, key="shared").status_code == 201
    assert pledge_count() == 2


def test_a_gateway_timeout_is_503_and_a_retry_with_the_key_finishes_without_charging_twice(
        investor, campaign, pledge_api, sandbox):
    from app.payments.gateways.base import GatewayError

    sandbox.fail_next = GatewayError("read timeout")
    assert_problem(pledge_api(investor, campaign, VISA, key="t-1"), 503)
    c = fresh(campaign)
    assert (c.raised_amount, c.reserved_amount) == (0, 500_00)  # held, not counted
    retry = pledge_api(investor, campaign, VISA, key="t-1")
    assert retry.status_code == 201 and retry.get_json()["status"] == "paid"
    assert sandbox.charges_made == 1
    c = fresh(campaign)
    assert (c.raised_amount, c.reserved_amount) == (500_00, 0)


# --- reading ---------------------------------------------------------------------------------


def test_investors_list_only_their_own_pledges_in_the_envelope(campaign, pledge_api, client, api_token):
    a, b = make_ready_investor(), make_ready_investor()
    mine = pledge_api(a, campaign, VISA).get_json()["id"]
    pledge_api(b, campaign, VISA)
    listed = client.get("/api/v1/pledges?per_page=5", headers=api_token(a.email)).get_json()
    assert listed["total"] == 1 and listed["page"] == 1 and listed["per_page"] == 5
    assert [p["id"] for p in listed["items"]] == [mine]
    assert_problem(client.get("/api/v1/pledges?per_page=500", headers=api_token(a.email)), 422, "per_page")


def test_a_pledge_is_visible_to_its_investor_and_the_operator_only(campaign, pledge_api, client, api_token):
    a, b = make_ready_investor(), make_ready_investor()
    operator = UserFactory(roles=["operator"])
    pid = pledge_api(a, campaign, VISA).get_json()["id"]
    assert client.get(f"/api/v1/pledges/{pid}", headers=api_token(a.email)).status_code == 200
    assert client.get(f"/api/v1/pledges/{pid}", headers=api_token(operator.email)).status_code == 200
    assert_problem(client.get(f"/api/v1/pledges/{pid}", headers=api_token(b.email)), 404)
    assert_problem(client.get("/api/v1/pledges/999999", headers=api_token(a.email)), 404)


# --- revocation ------------------------------------------------------------------------------


def revoke(client, api_token, user, pledge_id):
    return client.post(f"/api/v1/pledges/{pledge_id}/revoke", headers=api_token(user.email))


def test_revoking_in_the_reflection_period_refunds_and_uncounts(investor, campaign, pledge_api, client, api_token,
                                                               sandbox, clock):
    pid = pledge_api(investor, campaign, VISA).get_json()["id"]
    clock["now"] = NOW + timedelta(days=3, hours=23)
    response = revoke(client, api_token, investor, pid)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "refunded"
    assert sandbox.refunds_made == 1 and ("refund", f"pledge-{pid}-refund") in sandbox.calls
    c = fresh(campaign)
    assert (c.raised_amount, c.backers_count) == (0, 0)
    assert ledger.escrow_balance(campaign.id) == 0


def test_revoking_twice_is_409_and_refunds_once(investor, campaign, pledge_api, client, api_token, sandbox):
    pid = pledge_api(investor, campaign, VISA).get_json()["id"]
    assert revoke(client, api_token, investor, pid).status_code == 200
    assert_problem(revoke(client, api_token, investor, pid), 409)
    assert sandbox.refunds_made == 1


def test_revoking_after_the_deadline_is_409(investor, campaign, pledge_api, client, api_token, sandbox, clock):
    pid = pledge_api(investor, campaign, VISA).get_json()["id"]
    clock["now"] = NOW + timedelta(days=4)
    assert_problem(revoke(client, api_token, investor, pid), 409, "reflection_ends_at")
    assert sandbox.refunds_made == 0 and fresh(campaign).raised_amount == 500_00


def test_without_a_reflection_period_revoking_is_409(campaign, pledge_api, client, api_token):
    pro = make_ready_investor(classification="sophisticated")
    pid = pledge_api(pro, campaign, VISA).get_json()["id"]
    assert_problem(revoke(client, api_token, pro, pid), 409)


def test_revoking_another_investors_pledge_is_404(campaign, pledge_api, client, api_token, sandbox):
    a, b = make_ready_investor(), make_ready_investor()
    pid = pledge_api(a, campaign, VISA).get_json()["id"]
    assert_problem(revoke(client, api_token, b, pid), 404)
    assert sandbox.refunds_made == 0 and fresh(campaign).raised_amount == 500_00


def test_a_revoke_whose_refund_cannot_reach_the_gateway_is_finished_by_the_sweep(
        investor, campaign, pledge_api, client, api_token, sandbox, clock):
    from app.payments.gateways.base import GatewayError
    from app.payments.jobs import refund_revoked

    pid = pledge_api(investor, campaign, VISA).get_json()["id"]
    sandbox.fail_next = GatewayError("connection reset")
    response = revoke(client, api_token, investor, pid)
    assert response.status_code == 200 and response.get_json()["status"] == "revoked"
    assert fresh(campaign).raised_amount == 0 and ledger.escrow_balance(campaign.id) == 500_00
    assert refund_revoked.run(NOW).done == 1
    assert refund_revoked.run(NOW).done == 0
    assert db.session.get(Pledge, pid).status == "refunded" and sandbox.refunds_made == 1


def test_every_route_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "post" in paths["/campaigns/{campaign_id}/pledges"]
    assert "get" in paths["/pledges"] and "get" in paths["/pledges/{pledge_id}"]
    assert "post" in paths["/pledges/{pledge_id}/revoke"]
