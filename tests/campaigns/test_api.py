"""The campaign API: drafting, every validation rule, permissions and the lifecycle."""

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.campaigns.models import Campaign
from app.core.audit import AuditEntry
from app.extensions import db
from tests.factories import NOW, CampaignFactory, UserFactory

pytestmark = pytest.mark.usefixtures("frozen_clock")


def problem(response, status):
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def create(client, headers, body):
    return client.post("/api/v1/campaigns", json=body, headers=headers)


def test_owner_creates_a_draft(client, owner_headers, payload):
    response = create(client, owner_headers, payload)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "draft" and body["raised_amount"] == 0
    assert body["instrument"] == payload["instrument"]
    assert body["sdgs"] == [4, 7, 13]
    assert response.headers["Location"].endswith(f"/api/v1/campaigns/{body['id']}")


def _set(body, path, value):
    target = body
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if value is KeyError:
        target.pop(keys[-1])
    else:
        target[keys[-1]] = value


BAD_VALUES = [
    ("target_amount", 500_000_00, "max_amount"),  # target above max
    ("min_pledge", 400_000_00, "min_pledge"),  # min pledge above target
    ("opens_at", (NOW + timedelta(days=31)).isoformat(), "closes_at"),  # closes before opens
    ("opens_at", (NOW - timedelta(days=61)).isoformat(), "closes_at"),  # a 91-day round
    ("closes_at", (NOW + timedelta(hours=2)).isoformat(), "closes_at"),  # with opens_at below: < 1 day
    ("sdgs", [0], "sdgs"),
    ("sdgs", [18], "sdgs"),
    ("sdgs", [], "sdgs"),
    ("sdgs", [7, 7], "sdgs"),
    ("country", "XX", "country"),
    ("country", "ee", "country"),
    ("country", "EST", "country"),
    ("currency", "USD", "currency"),
    ("currency", "SEK", "currency"),
    ("instrument.interest_rate_bps", 3001, "instrument.interest_rate_bps"),
    ("instrument.interest_rate_bps", -1, "instrument.interest_rate_bps"),
    ("instrument.term_months", 0, "instrument.term_months"),
    ("instrument.term_months", 241, "instrument.term_months"),
    ("instrument.term_months", KeyError, "instrument.term_months"),
    ("instrument.repayment", "balloon", "instrument.repayment"),
    ("instrument.type", "equity", "instrument.type"),
    ("category", "space_mining", "category"),
    ("target_amount", 0, "target_amount"),
    ("target_amount", -5, "target_amount"),
    ("target_amount", 12.5, "target_amount"),
    ("target_amount", "lots", "target_amount"),
    ("target_amount", 10**30, "target_amount"),
    ("closes_at", "next tuesday", "closes_at"),
    ("closes_at", "2026-12-20T10:00:00", "closes_at"),  # no offset
    ("title", "", "title"),
    ("title", KeyError, "title"),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD_VALUES)
def test_each_rule_refuses_a_bad_value_with_a_field_error(client, owner_headers, payload, path, value, field):
    if path == "closes_at" and field == "closes_at" and isinstance(value, str) and "+" in value:
        payload["opens_at"] = NOW.isoformat()
    _set(payload, path, value)
    body = problem(create(client, owner_headers, payload), 422)
    assert field in body["errors"], body["errors"]
    assert db.session.scalar(select(Campaign.id)) is None


def test_donation_campaigns_have_no_interest_or_term(client, owner_headers, payload):
    payload["instrument"] = {"type": "donation", "interest_rate_bps": 500, "term_months": 12}
    body = problem(create(client, owner_headers, payload), 422)
    assert set(body["errors"]) >= {"instrument.interest_rate_bps", "instrument.term_months"}
    payload["instrument"] = {"type": "donation"}
    assert create(client, owner_headers, payload).status_code == 201


@pytest.mark.parametrize("role", ["investor", "operator", "regulator", "fund_manager"])
def test_only_owners_create_campaigns(client, api_token, payload, role):
    UserFactory(email="x@example.org", roles=[role])
    problem(create(client, api_token("x@example.org"), payload), 403)


def test_anonymous_create_is_401(client, payload):
    problem(client.post("/api/v1/campaigns", json=payload), 401)


def test_drafts_are_invisible_to_the_public_and_other_owners(client, api_token, owner_headers, payload):
    draft_id = create(client, owner_headers, payload).get_json()["id"]
    problem(client.get(f"/api/v1/campaigns/{draft_id}"), 404)
    UserFactory(email="other@example.org", roles=["owner"])
    other = api_token("other@example.org")
    problem(client.get(f"/api/v1/campaigns/{draft_id}", headers=other), 404)
    problem(client.patch(f"/api/v1/campaigns/{draft_id}", json={"title": "Mine now"}, headers=other), 404)
    problem(client.post(f"/api/v1/campaigns/{draft_id}/submit", headers=other), 404)
    assert client.get(f"/api/v1/campaigns/{draft_id}", headers=owner_headers).status_code == 200
    assert client.get("/campaigns/").get_data(as_text=True).count(payload["title"]) == 0
    assert client.get(f"/campaigns/{draft_id}").status_code == 404


def test_patch_revalidates_the_whole_draft(client, owner_headers, payload):
    draft_id = create(client, owner_headers, payload).get_json()["id"]
    ok = client.patch(f"/api/v1/campaigns/{draft_id}", json={"title": "Heat pumps, phase two",
                                                              "instrument": {"interest_rate_bps": 600}},
                      headers=owner_headers)
    assert ok.status_code == 200
    assert ok.get_json()["instrument"]["interest_rate_bps"] == 600
    assert ok.get_json()["instrument"]["term_months"] == 48
    body = problem(client.patch(f"/api/v1/campaigns/{draft_id}", json={"max_amount": 1000_00},
                                headers=owner_headers), 422)
    assert "max_amount" in body["errors"]
    assert db.session.get(Campaign, draft_id).max_amount == 400_000_00
    problem(client.patch(f"/api/v1/campaigns/{draft_id}", data="nope", content_type="application/json",
                         headers=owner_headers), 400)


def test_full_lifecycle_through_the_api_freezes_a_verifiable_kiis(client, owner_headers, operator_headers,
                                                                   payload, api_token):
    draft_id = create(client, owner_headers, payload).get_json()["id"]
    submitted = client.post(f"/api/v1/campaigns/{draft_id}/submit", headers=owner_headers)
    assert submitted.get_json()["status"] == "submitted"
    problem(client.patch(f"/api/v1/campaigns/{draft_id}", json={"title": "Changed"}, headers=owner_headers), 409)
    UserFactory(email="inv@example.org", roles=["investor"])
    problem(client.post(f"/api/v1/campaigns/{draft_id}/approve", json={"risk_class": "A"},
                        headers=api_token("inv@example.org")), 403)
    body = problem(client.post(f"/api/v1/campaigns/{draft_id}/approve", json={"risk_class": "F"},
                               headers=operator_headers), 422)
    assert "risk_class" in body["errors"]
    approved = client.post(f"/api/v1/campaigns/{draft_id}/approve", json={"risk_class": "B"},
                           headers=operator_headers)
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "live" and approved.get_json()["kiis_version"] == 1
    problem(client.patch(f"/api/v1/campaigns/{draft_id}", json={"title": "Changed"}, headers=owner_headers), 409)
    problem(client.post(f"/api/v1/campaigns/{draft_id}/approve", json={"risk_class": "B"},
                        headers=operator_headers), 409)
    public = client.get(f"/api/v1/campaigns/{draft_id}")
    assert public.status_code == 200 and public.get_json()["risk_class"] == "B"

    pdf = client.get(f"/campaigns/{draft_id}/kiis/1.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert hashlib.sha256(pdf.data).hexdigest() == pdf.headers["X-Content-SHA256"]
    assert pdf.data.count(b"/Type /Page\n") + pdf.data.count(b"/Type /Page ") + pdf.data.count(b"/Type /Page>") <= 6
    as_json = client.get(f"/campaigns/{draft_id}/kiis/1.json")
    assert hashlib.sha256(as_json.data).hexdigest() == as_json.headers["X-Content-SHA256"]
    content = as_json.get_json()
    assert content["offer"]["target_amount"] == payload["target_amount"]
    assert "neither verified nor approved" in content["disclaimer"]
    assert content["instrument"]["example_per_1000"]["instalments"] == 48
    assert client.get(f"/campaigns/{draft_id}/kiis/2.pdf").status_code == 404

    actions = set(db.session.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == str(draft_id))))
    assert {"campaign.created", "campaign.submit", "campaign.approve", "campaign.open",
            "campaign.kiis_frozen"} <= actions


def test_approval_with_a_later_opening_waits_in_approved(client, owner_headers, operator_headers, payload):
    draft_id = create(client, owner_headers, payload).get_json()["id"]
    client.post(f"/api/v1/campaigns/{draft_id}/submit", headers=owner_headers)
    later = (NOW + timedelta(days=2)).isoformat()
    response = client.post(f"/api/v1/campaigns/{draft_id}/approve", json={"risk_class": "C", "opens_at": later},
                           headers=operator_headers)
    assert response.get_json()["status"] == "approved"
    from app.campaigns.jobs import open_rounds

    assert open_rounds.run(NOW + timedelta(days=1)).done == 0
    assert open_rounds.run(NOW + timedelta(days=2, minutes=1)).done == 1
    assert db.session.get(Campaign, draft_id).status == "live"


def test_reject_returns_the_draft_with_a_reason_the_owner_sees(client, owner_headers, operator_headers, payload):
    draft_id = create(client, owner_headers, payload).get_json()["id"]
    client.post(f"/api/v1/campaigns/{draft_id}/submit", headers=owner_headers)
    body = problem(client.post(f"/api/v1/campaigns/{draft_id}/reject", json={}, headers=operator_headers), 422)
    assert "reason" in body["errors"]
    rejected = client.post(f"/api/v1/campaigns/{draft_id}/reject",
                           json={"reason": "Attach the energy audit, please."}, headers=operator_headers)
    assert rejected.get_json()["status"] == "draft"
    assert client.get(f"/api/v1/campaigns/{draft_id}",
                      headers=owner_headers).get_json()["rejection_reason"] == "Attach the energy audit, please."
    assert client.patch(f"/api/v1/campaigns/{draft_id}", json={"title": "Now with the audit"},
                        headers=owner_headers).status_code == 200


def test_illegal_transitions_are_409(client, owner_headers, operator_headers, payload):
    draft_id = create(client, owner_headers, payload).get_json()["id"]
    body = problem(client.post(f"/api/v1/campaigns/{draft_id}/approve", json={"risk_class": "A"},
                               headers=operator_headers), 409)
    assert "draft" in body["detail"]
    problem(client.post(f"/api/v1/campaigns/{draft_id}/cancel", headers=operator_headers), 409)
    client.post(f"/api/v1/campaigns/{draft_id}/submit", headers=owner_headers)
    problem(client.post(f"/api/v1/campaigns/{draft_id}/submit", headers=owner_headers), 409)


def test_operator_cancels_a_live_round(client, operator_headers):
    campaign = CampaignFactory()
    response = client.post(f"/api/v1/campaigns/{campaign.id}/cancel", json={"reason": "Permit withdrawn"},
                           headers=operator_headers)
    assert response.get_json()["status"] == "cancelled"
    problem(client.post(f"/api/v1/campaigns/{campaign.id}/cancel", headers=operator_headers), 409)


def test_offer_cap_is_enforced_at_submission(client, owner_headers, payload):
    owner_id = client.get("/api/v1/me", headers=owner_headers).get_json()["id"]
    CampaignFactory(owner=db.session.get(User, owner_id), status="successful", target_amount=4_000_000_00,
                    max_amount=4_800_000_00, raised_amount=4_700_000_00, closes_at=NOW - timedelta(days=100))
    payload["max_amount"] = 400_000_00
    draft_id = create(client, owner_headers, payload).get_json()["id"]
    body = problem(client.post(f"/api/v1/campaigns/{draft_id}/submit", headers=owner_headers), 422)
    assert "€5,000,000.00" in body["errors"]["max_amount"][0]
    assert db.session.get(Campaign, draft_id).status == "draft"
    # exactly at the cap is allowed
    client.patch(f"/api/v1/campaigns/{draft_id}", json={"max_amount": 300_000_00, "target_amount": 300_000_00},
                 headers=owner_headers)
    assert client.post(f"/api/v1/campaigns/{draft_id}/submit", headers=owner_headers).status_code == 200


def test_campaigns_older_than_twelve_months_do_not_count_toward_the_cap(client, owner_headers, payload):
    owner_id = client.get("/api/v1/me", headers=owner_headers).get_json()["id"]
    CampaignFactory(owner=db.session.get(User, owner_id), status="completed", target_amount=4_900_000_00,
                    max_amount=4_900_000_00, raised_amount=4_900_000_00, closes_at=NOW - timedelta(days=400))
    draft_id = create(client, owner_headers, payload).get_json()["id"]
    assert client.post(f"/api/v1/campaigns/{draft_id}/submit", headers=owner_headers).status_code == 200


def test_list_filters_and_paginates(client):
    CampaignFactory(title="Solar roof in Riga", country="LV", category="renewable_energy")
    CampaignFactory(title="Shore power Gdańsk", country="PL", category="clean_shipping", status="successful")
    CampaignFactory(title="Hidden draft", status="draft")
    everything = client.get("/api/v1/campaigns").get_json()
    assert everything["total"] == 2 and everything["page"] == 1 and everything["per_page"] == 20
    assert [c["title"] for c in client.get("/api/v1/campaigns?country=LV").get_json()["items"]] == [
        "Solar roof in Riga"]
    assert client.get("/api/v1/campaigns?status=successful").get_json()["total"] == 1
    assert client.get("/api/v1/campaigns?q=GDAŃSK").get_json()["total"] == 1
    assert client.get("/api/v1/campaigns?sdg=7").get_json()["total"] == 2
    assert client.get("/api/v1/campaigns?sdg=3").get_json()["total"] == 0
    assert client.get("/api/v1/campaigns?status=draft").status_code == 422
    assert client.get("/api/v1/campaigns?per_page=101").status_code == 422
    assert client.get("/api/v1/campaigns?sdg=zero").status_code == 422


def test_missing_campaign_is_404(client):
    problem(client.get("/api/v1/campaigns/999999"), 404)


def test_operator_amends_a_live_offer_and_a_new_kiis_version_is_frozen(client, operator_headers, api_token):
    from app.campaigns.services import freeze_kiis

    campaign = CampaignFactory(opens_at=NOW - timedelta(days=5), closes_at=NOW + timedelta(days=20))
    freeze_kiis(campaign, now=NOW, fee_bps=300)
    db.session.commit()
    later = (NOW + timedelta(days=40)).isoformat()
    response = client.post(f"/api/v1/campaigns/{campaign.id}/amend",
                           json={"closes_at": later, "reason": "Permit delayed by the city"}, headers=operator_headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["kiis_version"] == 2
    v1 = client.get(f"/campaigns/{campaign.id}/kiis/1.json").get_json()
    v2 = client.get(f"/campaigns/{campaign.id}/kiis/2.json").get_json()
    assert v1["offer"]["closes_at"] != v2["offer"]["closes_at"] == later
    for body, field in [({"reason": "x"}, "reason"), ({"reason": "No change at all"}, "_schema"),
                        ({"max_amount": 1_00, "reason": "Smaller round"}, "max_amount"),
                        ({"closes_at": (NOW + timedelta(days=200)).isoformat(), "reason": "Much longer"},
                         "closes_at"),
                        ({"closes_at": (NOW - timedelta(days=1)).isoformat(), "reason": "In the past"},
                         "closes_at")]:
        assert field in problem(client.post(f"/api/v1/campaigns/{campaign.id}/amend", json=body,
                                            headers=operator_headers), 422)["errors"]
    UserFactory(email="inv2@example.org", roles=["investor"])
    problem(client.post(f"/api/v1/campaigns/{campaign.id}/amend", json={"closes_at": later, "reason": "Mine now"},
                        headers=api_token("inv2@example.org")), 403)
    draft = CampaignFactory(status="draft")
    problem(client.post(f"/api/v1/campaigns/{draft.id}/amend", json={"closes_at": later, "reason": "Draft change"},
                        headers=operator_headers), 409)


def test_an_amendment_cannot_take_the_owner_over_the_offer_cap(client, operator_headers):
    """The EU EUR 5,000,000 cap holds after approval: raising one offer's maximum to EUR 4M
    beside another EUR 2M offer of the same owner is refused and changes nothing."""
    from app.campaigns.models import Campaign

    owner = UserFactory(roles=["owner"])
    CampaignFactory(owner=owner, max_amount=2_000_000_00, target_amount=1_000_000_00,
                    closes_at=NOW + timedelta(days=30))
    live = CampaignFactory(owner=owner, closes_at=NOW + timedelta(days=20))
    response = client.post(f"/api/v1/campaigns/{live.id}/amend", json={"max_amount": 4_000_000_00, "reason": "Bigger"},
                           headers=operator_headers)
    body = problem(response, 422)
    assert "5,000,000" in body["errors"]["max_amount"][0] and "6,000,000" in body["errors"]["max_amount"][0]
    assert db.session.get(Campaign, live.id).max_amount == 120_000_00
    assert client.post(f"/api/v1/campaigns/{live.id}/amend", json={"max_amount": 2_900_000_00, "reason": "Bigger"},
                       headers=operator_headers).status_code == 200
