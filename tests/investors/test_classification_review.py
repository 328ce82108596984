"""A sophisticated classification is reviewed every two years (ECSP Annex II): after that,
unless the operator decides again, the investor is treated as non-sophisticated (knowledge
test, loss simulation, warnings) and may ask for a review."""

from datetime import timedelta

from app.extensions import db
from app.investors import services
from app.investors.models import InvestorProfile
from tests.factories import NOW, UserFactory

TWO_YEARS = timedelta(days=731)


def sophisticated(classified_at):
    user = UserFactory(email="pro@example.org", roles=["investor"])
    db.session.add(InvestorProfile(user_id=user.id, legal_name="Mari Maasikas", country="EE", currency="EUR",
                                   net_worth=500_000_00, classification="sophisticated", classified_at=classified_at,
                                   identity_status="verified", created_at=NOW, updated_at=NOW))
    db.session.commit()
    return user


def test_within_two_years_the_sophisticated_status_applies(client, api_token, clock):
    sophisticated(NOW - TWO_YEARS + timedelta(days=2))
    body = client.get("/api/v1/me/readiness", headers=api_token("pro@example.org")).get_json()
    assert body["ready"] is True and body["classification"] == "sophisticated"
    assert [s["key"] for s in body["steps"]] == ["profile", "identity"]


def test_after_two_years_without_review_retail_rules_apply_and_a_review_can_be_asked(client, api_token, clock):
    user = sophisticated(NOW - TWO_YEARS)
    headers = api_token("pro@example.org")
    body = client.get("/api/v1/me/readiness", headers=headers).get_json()
    assert body["classification"] == "non_sophisticated" and body["ready"] is False
    keys = {s["key"]: s for s in body["steps"]}
    assert not keys["knowledge_test"]["done"] and not keys["loss_simulation"]["done"]
    assert "lapsed on" in keys["classification_review"]["detail"]
    facts = services.investor_context(user, NOW).facts
    assert facts.classification.value == "non_sophisticated"

    asked = client.post("/api/v1/me/classification-requests", headers=headers, json={
        "classification": "sophisticated", "criteria": ["income_or_portfolio", "significant_transactions"],
        "evidence": "Portfolio statement 2026"})
    assert asked.status_code == 201, asked.get_json()
    UserFactory(email="op@example.org", roles=["operator"])
    decided = client.post(f"/api/v1/classification-requests/{asked.get_json()['id']}/decision",
                          json={"decision": "approve"}, headers=api_token("op@example.org"))
    assert decided.status_code == 200, decided.get_json()
    assert services.get_profile(user).classified_at == NOW
    again = client.get("/api/v1/me/readiness", headers=headers).get_json()
    assert again["ready"] is True and again["classification"] == "sophisticated"


def test_a_qualified_status_in_russia_does_not_lapse(client, api_token, clock, ru):
    user = UserFactory(email="q@example.org", roles=["investor"])
    db.session.add(InvestorProfile(user_id=user.id, legal_name="Ivan", country="RU", currency="RUB",
                                   net_worth=1, classification="qualified", classified_at=NOW - 3 * TWO_YEARS,
                                   identity_status="verified", created_at=NOW, updated_at=NOW))
    db.session.commit()
    assert services.investor_context(user, NOW).facts.classification.value == "qualified"
