"""The investor pages: the journey in a browser's shoes, bad input on the forms, the queues."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from app.investors import services
from app.investors.models import ClassificationRequest
from tests.conftest import post_form
from tests.factories import UserFactory
from tests.investors.conftest import PROFILE, correct_answers, wrong_answers

FORM = {
    "legal_name": "Liisa Tamm",
    "address": "Narva mnt 5, Tallinn",
    "country": "EE",
    "currency": "EUR",
    "annual_income": "42000.00",
    "liquid_assets": "25000",
    "annual_commitments": "9000,00",
    "other_platforms_this_year": "",
}


def answers_form(answers: dict[str, str]) -> dict[str, str]:
    return {f"q-{qid}": option for qid, option in answers.items()}


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def investor(clock):
    return UserFactory(email="inv@example.org", name="Liisa Tamm", roles=["investor"])


@pytest.fixture
def signed_in(investor, auth):
    auth.login("inv@example.org")
    return investor


def test_journey_from_registration_to_ready_to_invest(client, auth, clock):
    UserFactory(email="op@example.org", roles=["operator"])
    registered = post_form(client, "/register", {"name": "Anna Berg", "email": "anna@example.org",
                                                 "password": "a long enough password",
                                                 "confirm": "a long enough password", "role": "investor",
                                                 "country": "SE"})
    assert registered.status_code == 302
    dashboard = html(client.get("/investors/"))
    assert 'data-ready="false"' in dashboard and 'data-step="knowledge_test"' in dashboard

    saved = post_form(client, "/investors/profile", {**FORM, "legal_name": "Anna Berg", "country": "SE"})
    assert saved.status_code == 302, html(saved)
    anna = db.session.scalar(select(User).where(User.email == "anna@example.org"))
    assert services.get_profile(anna).net_worth == 58_000_00

    test_page = html(client.get("/investors/knowledge-test"))
    assert test_page.count('type="radio"') == 30
    passed = post_form(client, "/investors/knowledge-test", answers_form(correct_answers()))
    assert passed.status_code == 302

    simulation = html(client.get("/investors/simulation"))
    assert "€5,800.00" in simulation and "€58,000.00" in simulation
    assert post_form(client, "/investors/simulation", {"acknowledge": "y"}).status_code == 302
    assert 'data-step="identity" data-done="false"' in html(client.get("/investors/"))

    auth.logout()
    auth.login("op@example.org")
    queue = html(client.get("/investors/verification"))
    assert "Anna Berg" in queue
    decided = post_form(client, f"/investors/{anna.id}/identity", {"status": "verified", "reason": ""},
                        page="/investors/verification")
    assert decided.status_code == 302
    assert "Nothing is waiting" in html(client.get("/investors/verification"))

    auth.logout()
    auth.login("anna@example.org", "a long enough password")
    dashboard = html(client.get("/investors/"))
    assert 'data-ready="true"' in dashboard and "Ready to invest" in dashboard


def test_profile_form_shows_saved_values(client, signed_in):
    post_form(client, "/investors/profile", FORM)
    page = html(client.get("/investors/profile"))
    assert 'value="42000.00"' in page and "€58,000.00" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"annual_income": "-100"}, "annual_income", "Must be between 0"),
        ({"annual_income": "lots"}, "annual_income", "Enter an amount such as 1234.56."),
        ({"annual_income": "12.345"}, "annual_income", "Enter an amount such as 1234.56."),
        ({"annual_income": "1e30"}, "annual_income", "Must be between 0"),
        ({"liquid_assets": "-1"}, "liquid_assets", "Must be between 0"),
        ({"annual_commitments": ""}, "annual_commitments", "or neither"),
        ({"currency": "SEK"}, "currency", "Declare amounts in EUR"),
        ({"legal_name": ""}, "legal_name", "Length must be between 2 and 200."),
    ],
)
def test_bad_profile_form_is_422_with_the_message_on_the_field(client, signed_in, change, field, message):
    response = post_form(client, "/investors/profile", {**FORM, **change})
    assert response.status_code == 422
    page = html(response)
    assert f'id="{field}-error"' in page and message in page
    assert services.get_profile(signed_in) is None


def test_knowledge_test_form_refuses_unknown_questions_and_options(client, signed_in):
    answers = answers_form(correct_answers())
    unknown = post_form(client, "/investors/knowledge-test", {**answers, "q-made_up": "made_up.a"})
    assert unknown.status_code == 422 and "There is no such question." in html(unknown)
    bad_option = post_form(client, "/investors/knowledge-test", {**answers, "q-illiquidity": "illiquidity.q"})
    assert bad_option.status_code == 422 and "not one of this question" in html(bad_option)
    missing = post_form(client, "/investors/knowledge-test", {k: v for k, v in answers.items()
                                                               if k != "q-diversification"})
    assert missing.status_code == 422 and 'id="q-diversification-error"' in html(missing)
    assert services.latest_attempt(signed_in) is None


def test_knowledge_test_form_fail_then_retake_too_soon(client, signed_in, clock):
    failed = post_form(client, "/investors/knowledge-test", answers_form(wrong_answers()))
    assert failed.status_code == 200 and "You answered 0 of 10 correctly" in html(failed)
    page = html(client.get("/investors/knowledge-test"))
    assert "You can take the test again from 2026-11-26 12:00" in page and 'type="radio"' not in page
    again = post_form(client, "/investors/knowledge-test", answers_form(correct_answers()), page="/investors/")
    assert again.status_code == 409 and "You can take the test again" in html(again)
    clock.advance(timedelta(hours=24))
    assert post_form(client, "/investors/knowledge-test", answers_form(correct_answers())).status_code == 302


def test_simulation_without_a_tick_is_422(client, signed_in, clock):
    services.save_profile(signed_in, PROFILE, now=clock.now)
    db.session.commit()
    response = post_form(client, "/investors/simulation", {})
    assert response.status_code == 422 and "tick the box" in html(response)


def test_simulation_without_a_profile_sends_to_the_profile(client, signed_in):
    response = client.get("/investors/simulation")
    assert response.status_code == 302 and response.headers["Location"].endswith("/investors/profile")


def test_investor_cannot_use_the_operator_pages_or_verify_themselves(client, signed_in):
    services.save_profile(signed_in, PROFILE, now=signed_in.created_at)
    db.session.commit()
    assert client.get("/investors/verification").status_code == 403
    assert client.get("/investors/classification-requests").status_code == 403
    csrf_page = "/investors/profile"
    response = post_form(client, f"/investors/{signed_in.id}/identity", {"status": "verified"}, page=csrf_page)
    assert response.status_code == 403
    assert services.get_profile(signed_in).identity_status == "pending"


def test_operator_who_invests_cannot_verify_themselves_in_the_queue(client, auth, clock):
    both = UserFactory(email="both@example.org", roles=["operator", "investor"])
    services.save_profile(both, PROFILE, now=clock.now)
    db.session.commit()
    auth.login("both@example.org")
    assert "Another operator must check your own identity." in html(client.get("/investors/verification"))
    response = post_form(client, f"/investors/{both.id}/identity", {"status": "verified"},
                         page="/investors/verification")
    assert response.status_code == 403


def test_one_investor_cannot_see_another_investors_page(client, signed_in, clock, auth):
    other = UserFactory(email="other@example.org", roles=["investor"])
    services.save_profile(other, {**PROFILE, "legal_name": "Other Person"}, now=clock.now)
    services.save_profile(signed_in, PROFILE, now=clock.now)
    db.session.commit()
    response = client.get(f"/investors/{other.id}")
    assert response.status_code == 404 and "Other Person" not in html(response)
    assert client.get(f"/investors/{signed_in.id}").status_code == 200
    auth.logout()
    UserFactory(email="op@example.org", roles=["operator"])
    auth.login("op@example.org")
    assert "Other Person" in html(client.get(f"/investors/{other.id}"))


def test_rejection_without_a_reason_is_refused_in_the_queue(client, auth, clock):
    investor = UserFactory(email="inv@example.org", roles=["investor"])
    services.save_profile(investor, PROFILE, now=clock.now)
    UserFactory(email="op@example.org", roles=["operator"])
    db.session.commit()
    auth.login("op@example.org")
    response = post_form(client, f"/investors/{investor.id}/identity", {"status": "rejected", "reason": ""},
                         page="/investors/verification", follow_redirects=True)
    assert "Say why the identity was rejected" in html(response)
    assert services.get_profile(investor).identity_status == "pending"


def test_no_decision_is_preselected_and_an_untouched_one_decides_nothing(client, auth, clock):
    investor = UserFactory(email="inv@example.org", roles=["investor"])
    services.save_profile(investor, PROFILE, now=clock.now)
    request = services.request_classification(
        investor, {"classification": "sophisticated",
                   "criteria": ["income_or_portfolio", "significant_transactions"]}, now=clock.now)
    UserFactory(email="op@example.org", roles=["operator"])
    db.session.commit()
    auth.login("op@example.org")
    queue = html(client.get("/investors/verification"))
    select = re.search(r'<select[^>]*id="status-.*?</select>', queue).group()
    assert '<option value="">Choose</option><option value="verified">' in select and "selected" not in select
    response = post_form(client, f"/investors/{investor.id}/identity", {"status": "", "reason": ""},
                         page="/investors/verification", follow_redirects=True)
    assert response.status_code == 200 and "Choose Verified or Rejected." in html(response)
    assert services.get_profile(investor).identity_status == "pending"

    queue = html(client.get("/investors/classification-requests"))
    select = re.search(r'<select[^>]*id="decision-.*?</select>', queue).group()
    assert '<option value="">Choose</option><option value="approve">' in select and "selected" not in select
    response = post_form(client, f"/investors/classification-requests/{request.id}", {"decision": "", "reason": ""},
                         page="/investors/classification-requests", follow_redirects=True)
    assert response.status_code == 200 and "Choose Approve or Refuse." in html(response)
    assert db.session.get(ClassificationRequest, request.id).status == "pending"


def test_classification_request_through_the_forms(client, signed_in, auth, clock):
    services.save_profile(signed_in, PROFILE, now=clock.now)
    db.session.commit()
    too_few = post_form(client, "/investors/classification", {"criteria": ["income_or_portfolio"]})
    assert too_few.status_code == 422 and "Declare at least 2" in html(too_few)
    sent = post_form(client, "/investors/classification",
                     {"criteria": ["income_or_portfolio", "significant_transactions"], "evidence": "Broker letter"})
    assert sent.status_code == 302
    assert "waiting for the operator" in html(client.get("/investors/classification"))
    request_id = db.session.scalar(select(ClassificationRequest.id))

    auth.logout()
    UserFactory(email="op@example.org", roles=["operator"])
    auth.login("op@example.org")
    queue = html(client.get("/investors/classification-requests"))
    assert "Broker letter" in queue and "capital markets" in queue
    decided = post_form(client, f"/investors/classification-requests/{request_id}",
                        {"decision": "approve", "reason": ""}, page="/investors/classification-requests")
    assert decided.status_code == 302
    assert services.get_profile(signed_in).classification == "sophisticated"


def test_fund_manager_sees_the_fund_page(client, auth, clock):
    manager = UserFactory(email="fm@example.org", name="Mikko Virtanen", roles=["fund_manager"])
    colleague = UserFactory(email="fm2@example.org", name="Aino Laine", roles=["fund_manager"])
    auth.login("fm@example.org")
    assert "not attached to a fund" in html(client.get("/investors/fund"))
    for user in (manager, colleague):
        services.attach_fund_manager(user, "Itämeri Green Fund", country="FI", currency="EUR", now=clock.now)
    db.session.commit()
    page = html(client.get("/investors/fund"))
    assert "Itämeri Green Fund" in page and "Aino Laine" in page and "Mikko Virtanen" in page
    dashboard = html(client.get("/investors/"))
    assert 'data-ready="true"' in dashboard and "Itämeri Green Fund" in dashboard
    assert client.get("/investors/profile").status_code == 403


def test_export_download_from_the_dashboard(client, signed_in):
    assert "/investors/me/export" in html(client.get("/investors/"))
    response = client.get("/investors/me/export")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert json.loads(html(response))["user"]["email"] == "inv@example.org"


def test_erasure_through_the_form(client, signed_in, auth):
    services.save_profile(signed_in, PROFILE, now=signed_in.created_at)
    db.session.commit()
    wrong = post_form(client, "/investors/me/erase", {"confirm": "y", "password": "not my password"})
    assert wrong.status_code == 422 and "That is not your password." in html(wrong)
    unticked = post_form(client, "/investors/me/erase", {"password": "correct horse battery"})
    assert unticked.status_code == 422
    erased = post_form(client, "/investors/me/erase", {"confirm": "y", "password": "correct horse battery"})
    assert erased.status_code == 302
    assert client.get("/investors/profile").status_code == 302  # signed out
    assert auth.login("inv@example.org").status_code == 401
    db.session.expire_all()
    assert services.get_profile(db.session.get(User, signed_in.id)).legal_name is None


def test_operator_dashboard_links_the_queues(client, auth, clock):
    UserFactory(email="op@example.org", roles=["operator"])
    auth.login("op@example.org")
    page = html(client.get("/investors/"))
    assert "/investors/verification" in page and "/investors/classification-requests" in page


def test_ru_dashboard_asks_for_a_risk_acknowledgement(client, signed_in, ru, clock):
    services.save_profile(signed_in, {**PROFILE, "currency": "RUB"}, now=clock.now)
    db.session.commit()
    assert 'data-step="risk_acknowledgement"' in html(client.get("/investors/"))
    page = html(client.get("/investors/simulation"))
    assert "Risk acknowledgement" in page and "600,000" in page
    assert post_form(client, "/investors/simulation", {"acknowledge": "y"}).status_code == 302


def test_pages_render_in_russian(client, signed_in, clock):
    services.save_profile(signed_in, PROFILE, now=clock.now)
    db.session.commit()
    page = html(client.get("/investors/knowledge-test", headers={"Accept-Language": "ru"}))
    assert "Что может произойти с вашими деньгами" in page
