"""The investor API: the journey to "ready to invest", bad input, permissions, funds, personal data."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.core.audit import AuditEntry
from app.extensions import db
from app.investors import limits, services
from app.investors.models import InvestorProfile
from tests.api.test_accounts import assert_problem
from tests.factories import NOW, UserFactory
from tests.investors.conftest import PROFILE, correct_answers, wrong_answers


def limit_decision(user, amount: int, currency: str, now, *, already: int):
    """The limits decision the pledge path makes for ``user`` (``payments.pledging``)."""
    facts = services.investor_context(user, now).facts
    return limits.check_pledge(facts, amount, currency, now, acknowledged=False, already_pledged_this_year=already,
                               profile=services.current_jurisdiction())


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


@pytest.fixture
def investor(clock):
    return UserFactory(email="inv@example.org", roles=["investor"])


@pytest.fixture
def operator(clock):
    return UserFactory(email="op@example.org", roles=["operator"])


@pytest.fixture
def inv_headers(investor, api_token):
    return api_token("inv@example.org")


@pytest.fixture
def op_headers(operator, api_token):
    return api_token("op@example.org")


def put_profile(client, headers, **change):
    return client.put("/api/v1/me/investor-profile", json={**PROFILE, **change}, headers=headers)


def test_journey_from_registration_to_ready_to_invest(client, clock, api_token, operator, op_headers):
    registered = client.post("/api/v1/users", json={"email": "anna@example.org", "password": "a long enough password",
                                                    "name": "Anna Berg", "role": "investor", "country": "SE"})
    assert registered.status_code == 201
    user_id = registered.get_json()["id"]
    headers = api_token("anna@example.org", "a long enough password")

    readiness = client.get("/api/v1/me/readiness", headers=headers).get_json()
    assert readiness == {"ready": False, "jurisdiction": "EU", "classification": None,
                         "missing": ["profile", "identity", "knowledge_test", "loss_simulation"],
                         "steps": readiness["steps"]}

    saved = put_profile(client, headers, legal_name="Anna Berg", country="SE")
    assert saved.status_code == 200, saved.get_json()
    profile = saved.get_json()
    assert profile["net_worth"] == 58_000_00 and profile["loss_capacity"] == 5_800_00
    assert profile["identity_status"] == "pending" and profile["classification"] == "non_sophisticated"

    test = client.get("/api/v1/me/knowledge-test", headers=headers)
    body = test.get_json()
    assert len(body["questions"]) == 10 and body["pass_mark"] == 8 and body["passed"] is False
    assert "correct" not in test.get_data(as_text=True)
    topics = {q["topic"] for q in body["questions"]}
    assert {"loss_of_capital", "illiquidity", "no_deposit_guarantee", "diversification", "reflection_period"} <= topics

    bank = client.get("/api/v1/knowledge-test", headers=op_headers).get_json()
    answers = {q["id"]: q["correct_option_id"] for q in bank["questions"]}
    result = client.post("/api/v1/me/knowledge-test", json={"answers": answers}, headers=headers).get_json()
    assert result["passed"] is True and result["score"] == 10 and result["pass_mark"] == 8
    assert result["valid_until"].startswith("2028-11-25")

    simulation = client.get("/api/v1/me/loss-simulation", headers=headers).get_json()
    assert simulation["loss_capacity"] == 5_800_00 and simulation["acknowledged"] is False
    assert simulation["warning_threshold"] == 2_900_00  # 5 % of EUR 58,000 beats EUR 1,000
    acknowledged = client.post("/api/v1/me/loss-simulation", json={"acknowledge": True}, headers=headers)
    assert acknowledged.status_code == 200 and acknowledged.get_json()["acknowledged"] is True
    assert client.get("/api/v1/me/readiness", headers=headers).get_json()["missing"] == ["identity"]

    queue = client.get("/api/v1/investors?identity_status=pending", headers=op_headers).get_json()
    assert [p["user_id"] for p in queue["items"]] == [user_id] and queue["total"] == 1
    verified = client.post(f"/api/v1/investors/{user_id}/verify", headers=op_headers)
    assert verified.status_code == 200 and verified.get_json()["identity_status"] == "verified"

    readiness = client.get("/api/v1/me/readiness", headers=headers).get_json()
    assert readiness["ready"] is True and readiness["missing"] == []
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["classification"] == "non_sophisticated"
    assert me["investor_profile"]["identity_status"] == "verified"
    assert {"investor.profile_created", "investor.knowledge_test_passed", "investor.loss_simulation_acknowledged",
            "investor.identity_verified"} <= set(actions())


def test_profile_given_net_worth_directly_as_api_md_describes(client, inv_headers):
    body = {k: v for k, v in PROFILE.items() if k not in ("liquid_assets", "annual_commitments", "address")}
    response = client.put("/api/v1/me/investor-profile", json={**body, "net_worth": 80_000_00,
                                                                 "other_platforms_this_year": 1_000_00},
                          headers=inv_headers)
    assert response.status_code == 200, response.get_json()
    profile = response.get_json()
    assert profile["net_worth"] == 80_000_00 and profile["other_platforms_this_year"] == 1_000_00
    assert profile["other_platforms_year"] == 2026
    assert client.get("/api/v1/me/investor-profile", headers=inv_headers).get_json() == profile


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"annual_income": -1}, "annual_income"),
        ({"annual_income": 10**20}, "annual_income"),
        ({"annual_income": "42000"}, "annual_income"),
        ({"annual_income": 420.5}, "annual_income"),
        ({"annual_income": True}, "annual_income"),
        ({"annual_income": None}, "annual_income"),
        ({"liquid_assets": -5}, "liquid_assets"),
        ({"annual_commitments": 10**16}, "annual_commitments"),
        ({"net_worth": -100}, "net_worth"),
        ({"net_worth": 1}, "net_worth"),  # disagrees with income + assets − commitments
        ({"liquid_assets": None}, "liquid_assets"),  # one component without the other
        ({"other_platforms_this_year": -1}, "other_platforms_this_year"),
        ({"currency": "SEK"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"country": "Estonia"}, "country"),
        ({"legal_name": ""}, "legal_name"),
        ({"legal_name": "x" * 201}, "legal_name"),
        ({"is_verified": True}, "is_verified"),
        ({"identity_status": "verified"}, "identity_status"),
    ],
)
def test_bad_profile_is_422_naming_the_field_and_saves_nothing(client, inv_headers, change, field):
    body = assert_problem(put_profile(client, inv_headers, **change), 422)
    assert body["errors"].get(field), body
    assert db.session.scalar(select(InvestorProfile)) is None


def test_profile_without_net_worth_or_its_components_is_422(client, inv_headers):
    body = {k: v for k, v in PROFILE.items() if k not in ("liquid_assets", "annual_commitments")}
    problem = assert_problem(client.put("/api/v1/me/investor-profile", json=body, headers=inv_headers), 422)
    assert "net_worth" in problem["errors"]


def test_profile_body_that_is_not_json_is_400(client, inv_headers):
    assert_problem(client.put("/api/v1/me/investor-profile", data="x", content_type="text/plain",
                              headers=inv_headers), 400)


@pytest.mark.parametrize("roles", [["owner"], ["fund_manager"], ["operator"], ["regulator"]])
def test_only_investors_have_a_profile(client, api_token, roles, clock):
    UserFactory(email="x@example.org", roles=roles)
    headers = api_token("x@example.org")
    assert_problem(put_profile(client, headers), 403)
    assert_problem(client.get("/api/v1/me/knowledge-test", headers=headers), 403)


def test_anonymous_is_401(client):
    assert_problem(client.put("/api/v1/me/investor-profile", json=PROFILE), 401)
    assert_problem(client.post("/api/v1/investors/1/verify"), 401)


def test_changing_identity_details_after_verification_asks_for_a_new_check(client, investor, inv_headers,
                                                                             operator, op_headers):
    put_profile(client, inv_headers)
    client.post(f"/api/v1/investors/{investor.id}/verify", headers=op_headers)
    same_identity = put_profile(client, inv_headers, annual_income=50_000_00).get_json()
    assert same_identity["identity_status"] == "verified"
    moved = put_profile(client, inv_headers, address="Pikk 1, Tartu").get_json()
    assert moved["identity_status"] == "pending"
    assert "investor.identity_reset" in actions()


# --- knowledge test -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "error_key", "message"),
    [
        (lambda a: {**a, "no_such_question": "loss_of_capital.a"}, "answers.no_such_question", "no such question"),
        (lambda a: {**a, "loss_of_capital": "loss_of_capital.z"}, "answers.loss_of_capital", "not one of"),
        (lambda a: {**a, "loss_of_capital": "illiquidity.b"}, "answers.loss_of_capital", "not one of"),
        (lambda a: {**a, "loss_of_capital": 7}, "answers.loss_of_capital", "not one of"),
        (lambda a: {k: v for k, v in a.items() if k != "illiquidity"}, "answers.illiquidity", "Answer this"),
    ],
)
def test_bad_answers_are_422_and_record_no_attempt(client, inv_headers, mutate, error_key, message):
    response = client.post("/api/v1/me/knowledge-test", json={"answers": mutate(correct_answers())},
                           headers=inv_headers)
    body = assert_problem(response, 422)
    assert message in body["errors"][error_key][0]
    assert "investor.knowledge_test_passed" not in actions()


@pytest.mark.parametrize("body", [{}, {"answers": ["a"]}, {"answers": "all correct"}, {"answers": {}, "x": 1}])
def test_malformed_answer_bodies_are_422(client, inv_headers, body):
    assert_problem(client.post("/api/v1/me/knowledge-test", json=body, headers=inv_headers), 422)


def test_retaking_too_soon_after_a_fail_is_409_until_the_cool_down_ends(client, clock, inv_headers, api_token):
    failed = client.post("/api/v1/me/knowledge-test", json={"answers": wrong_answers()}, headers=inv_headers)
    assert failed.status_code == 200
    result = failed.get_json()
    assert result["passed"] is False and result["score"] == 0 and len(result["wrong_question_ids"]) == 10
    assert result["retake_after"].startswith("2026-11-26T12:00")

    clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    body = assert_problem(client.post("/api/v1/me/knowledge-test", json={"answers": correct_answers()},
                                      headers=inv_headers), 409)
    assert "2026-11-26T12:00" in body["detail"]
    assert client.get("/api/v1/me/knowledge-test", headers=inv_headers).get_json()["retake_after"]

    clock.advance(timedelta(seconds=1))
    inv_headers = api_token("inv@example.org")  # tokens live 24 hours too
    passed = client.post("/api/v1/me/knowledge-test", json={"answers": correct_answers()}, headers=inv_headers)
    assert passed.status_code == 200 and passed.get_json()["passed"] is True


def test_pass_mark_is_eight_of_ten(client, inv_headers):
    answers = correct_answers()
    wrong = wrong_answers()
    for qid in list(answers)[:2]:
        answers[qid] = wrong[qid]
    assert client.post("/api/v1/me/knowledge-test", json={"answers": answers},
                       headers=inv_headers).get_json()["passed"] is True


def test_a_pass_is_valid_two_years_and_renewable_in_its_last_90_days(client, clock, investor, inv_headers,
                                                                      api_token):
    client.post("/api/v1/me/knowledge-test", json={"answers": correct_answers()}, headers=inv_headers)
    assert_problem(client.post("/api/v1/me/knowledge-test", json={"answers": correct_answers()},
                               headers=inv_headers), 409)
    clock.advance(timedelta(days=731 - 90))
    assert services.valid_pass(investor, clock.now) is not None
    inv_headers = api_token("inv@example.org")
    renewed = client.post("/api/v1/me/knowledge-test", json={"answers": correct_answers()}, headers=inv_headers)
    assert renewed.status_code == 200
    clock.advance(timedelta(days=800))
    inv_headers = api_token("inv@example.org")
    state = client.get("/api/v1/me/knowledge-test", headers=inv_headers).get_json()
    assert state["passed"] is False and state["valid_until"] is None


def test_question_bank_is_for_the_operator_only(client, inv_headers, op_headers):
    assert_problem(client.get("/api/v1/knowledge-test", headers=inv_headers), 403)
    bank = client.get("/api/v1/knowledge-test", headers=op_headers).get_json()
    assert len(bank["questions"]) == 10
    assert all(q["correct_option_id"] in {o["id"] for o in q["options"]} for q in bank["questions"])


# --- loss simulation ---------------------------------------------------------------------------


def test_simulation_needs_a_profile_and_a_true_acknowledgement(client, inv_headers):
    assert_problem(client.get("/api/v1/me/loss-simulation", headers=inv_headers), 409)
    put_profile(client, inv_headers)
    for body in ({"acknowledge": False}, {}, {"acknowledge": "yes please"}):
        assert_problem(client.post("/api/v1/me/loss-simulation", json=body, headers=inv_headers), 422)


def test_a_new_net_worth_needs_a_new_acknowledgement(client, investor, inv_headers, clock):
    put_profile(client, inv_headers)
    client.post("/api/v1/me/loss-simulation", json={"acknowledge": True}, headers=inv_headers)
    assert "loss_simulation" not in services.readiness(investor, clock.now).missing
    put_profile(client, inv_headers, liquid_assets=100_000_00)
    simulation = client.get("/api/v1/me/loss-simulation", headers=inv_headers).get_json()
    assert simulation["acknowledged"] is False and simulation["loss_capacity"] == 13_300_00
    assert "loss_simulation" in services.readiness(investor, clock.now).missing


# --- operator decisions and who may see what ----------------------------------------------------


def test_an_investor_cannot_verify_anyone_not_even_themselves(client, investor, inv_headers):
    put_profile(client, inv_headers)
    assert_problem(client.post(f"/api/v1/investors/{investor.id}/verify", headers=inv_headers), 403)
    assert_problem(client.post(f"/api/v1/investors/{investor.id}/classify",
                               json={"classification": "sophisticated"}, headers=inv_headers), 403)
    assert services.get_profile(investor).identity_status == "pending"


def test_an_operator_who_also_invests_cannot_verify_themselves(client, api_token, clock):
    both = UserFactory(email="both@example.org", roles=["operator", "investor"])
    headers = api_token("both@example.org")
    put_profile(client, headers)
    body = assert_problem(client.post(f"/api/v1/investors/{both.id}/verify", headers=headers), 403)
    assert "yourself" in body["detail"]
    assert_problem(client.post(f"/api/v1/investors/{both.id}/classify", json={"classification": "sophisticated"},
                               headers=headers), 403)


def test_one_investor_cannot_read_another_investors_profile(client, investor, inv_headers, api_token, op_headers):
    other = UserFactory(email="other@example.org", roles=["investor"])
    other_headers = api_token("other@example.org")
    put_profile(client, other_headers, legal_name="Other Person")
    put_profile(client, inv_headers)
    body = assert_problem(client.get(f"/api/v1/investors/{other.id}", headers=inv_headers), 404)
    assert "Other Person" not in str(body)
    assert_problem(client.get("/api/v1/investors/999999", headers=inv_headers), 404)
    assert_problem(client.get("/api/v1/investors", headers=inv_headers), 403)
    assert client.get(f"/api/v1/investors/{investor.id}", headers=inv_headers).status_code == 200
    assert client.get(f"/api/v1/investors/{other.id}", headers=op_headers).get_json()["legal_name"] == "Other Person"


def test_rejection_needs_a_reason_and_shows_it(client, investor, inv_headers, op_headers):
    put_profile(client, inv_headers)
    body = assert_problem(client.post(f"/api/v1/investors/{investor.id}/verify", json={"status": "rejected"},
                                      headers=op_headers), 422)
    assert "reason" in body["errors"]
    assert_problem(client.post(f"/api/v1/investors/{investor.id}/verify", json={"status": "maybe"},
                               headers=op_headers), 422)
    rejected = client.post(f"/api/v1/investors/{investor.id}/verify",
                           json={"status": "rejected", "reason": "The document photo is unreadable."},
                           headers=op_headers).get_json()
    assert rejected["identity_status"] == "rejected"
    steps = client.get("/api/v1/me/readiness", headers=inv_headers).get_json()["steps"]
    assert "unreadable" in steps[1]["detail"]


def test_verifying_an_unknown_investor_is_404(client, op_headers):
    assert_problem(client.post("/api/v1/investors/999999/verify", headers=op_headers), 404)


def test_classification_request_and_operator_approval(client, investor, inv_headers, op_headers, clock):
    assert_problem(client.post("/api/v1/me/classification-requests",
                               json={"classification": "sophisticated",
                                     "criteria": ["income_or_portfolio", "significant_transactions"]},
                               headers=inv_headers), 409)  # no profile yet
    put_profile(client, inv_headers)
    for bad, field in [
        ({"classification": "sophisticated", "criteria": ["income_or_portfolio"]}, "criteria"),
        ({"classification": "sophisticated", "criteria": ["income_or_portfolio", "rich_uncle"]}, "criteria"),
        ({"classification": "qualified", "criteria": ["income_or_portfolio", "significant_transactions"]},
         "classification"),
        ({"classification": "wizard", "criteria": []}, "classification"),
    ]:
        body = assert_problem(client.post("/api/v1/me/classification-requests", json=bad, headers=inv_headers), 422)
        assert field in body["errors"]
    good = {"classification": "sophisticated", "criteria": ["income_or_portfolio", "financial_sector_experience"],
            "evidence": "Risk analyst at a bank since 2019."}
    created = client.post("/api/v1/me/classification-requests", json=good, headers=inv_headers)
    assert created.status_code == 201 and created.get_json()["status"] == "pending"
    assert_problem(client.post("/api/v1/me/classification-requests", json=good, headers=inv_headers), 409)

    queue = client.get("/api/v1/classification-requests", headers=op_headers).get_json()
    assert queue["total"] == 1
    request_id = queue["items"][0]["id"]
    assert_problem(client.post(f"/api/v1/classification-requests/{request_id}/decision",
                               json={"decision": "refuse"}, headers=op_headers), 422)
    decided = client.post(f"/api/v1/classification-requests/{request_id}/decision", json={"decision": "approve"},
                          headers=op_headers)
    assert decided.status_code == 200 and decided.get_json()["status"] == "approved"
    assert_problem(client.post(f"/api/v1/classification-requests/{request_id}/decision",
                               json={"decision": "approve"}, headers=op_headers), 409)
    assert client.get("/api/v1/me", headers=inv_headers).get_json()["classification"] == "sophisticated"
    readiness = client.get("/api/v1/me/readiness", headers=inv_headers).get_json()
    assert [s["key"] for s in readiness["steps"]] == ["profile", "identity"]
    assert client.get("/api/v1/me/knowledge-test", headers=inv_headers).get_json()["required"] is False
    assert {"investor.classification_requested", "investor.classification_request_approved",
            "investor.classified"} <= set(actions())


def test_operator_classify_settles_a_pending_request_and_respects_the_jurisdiction(client, investor, inv_headers,
                                                                                 op_headers):
    put_profile(client, inv_headers)
    client.post("/api/v1/me/classification-requests",
                json={"classification": "sophisticated", "criteria": ["income_or_portfolio",
                                                                      "significant_transactions"]},
                headers=inv_headers)
    body = assert_problem(client.post(f"/api/v1/investors/{investor.id}/classify",
                                      json={"classification": "qualified"}, headers=op_headers), 422)
    assert "EU" in body["errors"]["classification"][0]
    kept = client.post(f"/api/v1/investors/{investor.id}/classify",
                       json={"classification": "non_sophisticated", "reason": "No evidence of income."},
                       headers=op_headers)
    assert kept.status_code == 200 and kept.get_json()["classification"] == "non_sophisticated"
    mine = client.get("/api/v1/me/classification-requests", headers=inv_headers).get_json()["items"]
    assert mine[0]["status"] == "refused" and mine[0]["reason"] == "No evidence of income."


# --- the Russian profile ----------------------------------------------------------------------


def test_ru_profile_declares_in_roubles_and_needs_a_risk_acknowledgement(client, ru, investor, inv_headers,
                                                                        op_headers, clock, api_token):
    body = assert_problem(put_profile(client, inv_headers), 422)
    assert "RUB" in body["errors"]["currency"][0]
    saved = put_profile(client, inv_headers, currency="RUB", other_platforms_this_year=100_000_00).get_json()
    assert saved["classification"] == "non_qualified" and saved["other_platforms_this_year"] == 100_000_00
    readiness = client.get("/api/v1/me/readiness", headers=inv_headers).get_json()
    assert readiness["missing"] == ["identity", "risk_acknowledgement"] and readiness["jurisdiction"] == "RU"
    simulation = client.get("/api/v1/me/loss-simulation", headers=inv_headers).get_json()
    assert simulation["annual_limit"] == 600_000_00 and simulation["annual_headroom"] == 500_000_00
    client.post("/api/v1/me/loss-simulation", json={"acknowledge": True}, headers=inv_headers)
    client.post(f"/api/v1/investors/{investor.id}/verify", headers=op_headers)
    assert client.get("/api/v1/me/readiness", headers=inv_headers).get_json()["ready"] is True

    decision = limit_decision(investor, 500_000_01, "RUB", clock.now, already=0)
    assert not decision.allowed and decision.headroom == 500_000_00
    # On 1 January (Moscow time) last year's declaration no longer counts.
    clock.now = NOW.replace(year=2026, month=12, day=31, hour=21)
    inv_headers, op_headers = api_token("inv@example.org"), api_token("op@example.org")
    assert client.get("/api/v1/me/investor-profile", headers=inv_headers).get_json()["other_platforms_this_year"] == 0
    assert limit_decision(investor, 600_000_00, "RUB", clock.now, already=0).allowed

    assert_problem(client.post(f"/api/v1/investors/{investor.id}/classify",
                               json={"classification": "sophisticated"}, headers=op_headers), 422)
    qualified = client.post(f"/api/v1/investors/{investor.id}/classify", json={"classification": "qualified"},
                            headers=op_headers)
    assert qualified.get_json()["classification"] == "qualified"
    assert limit_decision(investor, 10_000_000_00, "RUB", clock.now, already=600_000_00).allowed


def test_eu_pledge_check_for_a_user(client, investor, inv_headers, clock):
    put_profile(client, inv_headers)
    decision = limit_decision(investor, 2_900_01, "EUR", clock.now, already=0)
    assert decision.field == "acknowledge_risk" and decision.threshold == 2_900_00


# --- funds --------------------------------------------------------------------------------------


def test_fund_managers_share_the_funds_account(client, runner, api_token, clock):
    for email in ("m1@example.org", "m2@example.org"):
        result = runner.invoke(args=["users", "create", "--email", email, "--password", "long enough pw",
                                     "--role", "fund_manager", "--fund", "Baltic Impact Fund", "--country", "FI"])
        assert result.exit_code == 0, result.output
        assert "Fund manager of Baltic Impact Fund" in result.output
    funds = []
    for email in ("m1@example.org", "m2@example.org"):
        headers = api_token(email, "long enough pw")
        fund = client.get("/api/v1/me/fund", headers=headers).get_json()
        funds.append(fund)
        readiness = client.get("/api/v1/me/readiness", headers=headers).get_json()
        assert readiness["ready"] is True and readiness["classification"] == "professional"
        assert client.get("/api/v1/me", headers=headers).get_json()["classification"] == "professional"
    assert funds[0] == funds[1]
    assert funds[0]["name"] == "Baltic Impact Fund" and funds[0]["country"] == "FI"
    assert funds[0]["classification"] == "professional" and len(funds[0]["managers"]) == 2
    manager = db.session.scalar(select(User).where(User.email == "m1@example.org"))
    assert limit_decision(manager, 10_000_000_00, "EUR", clock.now, already=0).allowed


def test_fund_manager_without_a_fund(client, api_token, clock):
    UserFactory(email="fm@example.org", roles=["fund_manager"])
    headers = api_token("fm@example.org")
    assert_problem(client.get("/api/v1/me/fund", headers=headers), 404)
    readiness = client.get("/api/v1/me/readiness", headers=headers).get_json()
    assert readiness["ready"] is False and readiness["missing"] == ["fund"]


def test_cli_refuses_a_fund_for_a_non_manager(runner):
    result = runner.invoke(args=["users", "create", "--email", "a@example.org", "--password", "long enough pw",
                                 "--role", "investor", "--fund", "Some Fund"])
    assert result.exit_code == 2 and "fund_manager" in result.output


# --- personal data ------------------------------------------------------------------------------


def test_export_holds_everything_and_is_audited(client, investor, inv_headers):
    put_profile(client, inv_headers)
    client.post("/api/v1/me/knowledge-test", json={"answers": correct_answers()}, headers=inv_headers)
    response = client.get("/api/v1/me/export", headers=inv_headers)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = response.get_json()
    assert data["user"]["email"] == "inv@example.org"
    assert data["investor_profile"]["legal_name"] == "Liisa Tamm"
    assert data["knowledge_test_attempts"][0]["passed"] is True
    assert "investor.profile_created" in {e["action"] for e in data["audit_log"]}
    assert actions()[-1] == "personal_data.exported"


def test_erasure_anonymises_and_keeps_the_records(client, investor, inv_headers):
    put_profile(client, inv_headers)
    client.post("/api/v1/me/knowledge-test", json={"answers": correct_answers()}, headers=inv_headers)
    assert_problem(client.post("/api/v1/me/erasure", json={"confirm": False}, headers=inv_headers), 422)
    erased = client.post("/api/v1/me/erasure", json={"confirm": True, "password": "correct horse battery"},
                         headers=inv_headers)
    assert erased.status_code == 200 and erased.get_json()["erased"] is True
    assert_problem(client.get("/api/v1/me", headers=inv_headers), 401)  # session token rotated
    db.session.expire_all()
    user = db.session.get(User, investor.id)
    assert user.email == f"erased-{investor.id}@erased.invalid" and "Erased" in user.name and not user.active
    assert client.post("/api/v1/tokens", json={"email": "inv@example.org",
                                               "password": "correct horse battery"}).status_code == 401
    profile = services.get_profile(user)
    assert profile.legal_name is None and profile.address is None and profile.net_worth is None
    assert profile.annual_income is None and profile.classification == "non_sophisticated"
    assert services.latest_attempt(user).passed is True  # the outcome is kept
    assert "user.erased" in actions()
    assert client.post("/api/v1/users", json={"email": "inv@example.org", "password": "a long enough password",
                                              "name": "New", "role": "investor", "country": "EE"}).status_code == 201


def test_openapi_documents_the_investor_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [("/me/investor-profile", "put"), ("/me/knowledge-test", "post"),
                         ("/investors/{user_id}/verify", "post"), ("/investors/{user_id}/classify", "post"),
                         ("/knowledge-test", "get"), ("/me/export", "get"), ("/me/erasure", "post")]:
        assert method in paths[path]
