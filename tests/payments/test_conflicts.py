"""Conflicts of interest (ECSP Art. 8): nobody pledges to their own campaign, staff invest only
where the deployment allows it, and no operator reviews their own campaign. Refusals are
403 problems and write nothing."""

import pytest
from sqlalchemy import func, select

from app.campaigns.models import Campaign
from app.extensions import db
from app.payments.models import Pledge
from tests.factories import CampaignFactory, UserFactory
from tests.payments.conftest import make_ready_investor

BODY = {"amount": 100_00, "payment_method": "pm_card_visa", "acknowledge_risk": True}


def pledges() -> int:
    return db.session.scalar(select(func.count()).select_from(Pledge))


def test_an_owner_who_also_invests_cannot_pledge_to_their_own_campaign(pledge_api):
    owner = make_ready_investor(roles=["investor", "owner"])
    own = CampaignFactory(owner=owner)
    response = pledge_api(owner, own, BODY)
    assert response.status_code == 403 and "own" in response.get_json()["detail"]
    assert pledges() == 0
    assert pledge_api(owner, CampaignFactory(), BODY).status_code == 201


def test_platform_staff_may_not_invest_unless_the_deployment_allows_it(app, pledge_api):
    staff = make_ready_investor(roles=["investor", "operator"])
    live = CampaignFactory()
    response = pledge_api(staff, live, BODY)
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert pledges() == 0
    app.config["STAFF_MAY_INVEST"] = True
    try:
        assert pledge_api(staff, live, BODY).status_code == 201
    finally:
        app.config["STAFF_MAY_INVEST"] = False


@pytest.mark.parametrize(("path", "body"), [
    ("approve", {"risk_class": "B"}),
    ("reject", {"reason": "Attach the energy audit, please."}),
])
def test_an_operator_does_not_review_their_own_campaign(client, api_token, path, body):
    operator = UserFactory(roles=["operator", "owner"])
    submitted = CampaignFactory(owner=operator, status="submitted")
    response = client.post(f"/api/v1/campaigns/{submitted.id}/{path}", json=body, headers=api_token(operator.email))
    assert response.status_code == 403
    assert db.session.get(Campaign, submitted.id).status == "submitted"
    other = UserFactory(roles=["operator"])
    assert client.post(f"/api/v1/campaigns/{submitted.id}/{path}", json=body,
                       headers=api_token(other.email)).status_code == 200


def test_an_operator_does_not_amend_their_own_offer(client, api_token):
    operator = UserFactory(roles=["operator", "owner"])
    live = CampaignFactory(owner=operator)
    response = client.post(f"/api/v1/campaigns/{live.id}/amend", json={"max_amount": 200_000_00, "reason": "More"},
                           headers=api_token(operator.email))
    assert response.status_code == 403
    assert db.session.get(Campaign, live.id).max_amount == 120_000_00

