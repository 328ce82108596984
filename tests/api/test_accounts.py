"""POST /users, POST /tokens, GET /me — and the problem+json contract around them."""

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.extensions import db
from tests.factories import UserFactory

GOOD = {"email": "Jaan@Example.org", "password": "a long enough password", "name": "Jaan", "role": "owner",
        "country": "EE"}


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert set(body) >= {"type", "title", "status", "detail", "errors"}
    assert body["status"] == status
    return body


def test_register_returns_201_without_password(client):
    response = client.post("/api/v1/users", json=GOOD)
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "jaan@example.org"
    assert body["roles"] == ["owner"]
    assert "password" not in body and "password_hash" not in body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "jaan@"}, "email"),
        ({"email": "no at sign"}, "email"),
        ({"password": "short"}, "password"),
        ({"role": "operator"}, "role"),
        ({"role": "wizard"}, "role"),
        ({"country": "Estonia"}, "country"),
        ({"country": "ZZ"}, "country"),
        ({"name": ""}, "name"),
        ({"email": None}, "email"),
        ({"password": 12345678901}, "password"),
    ],
)
def test_bad_registration_is_422_with_field_errors_and_writes_nothing(client, change, field):
    response = client.post("/api/v1/users", json={**GOOD, **change})
    body = assert_problem(response, 422)
    assert field in body["errors"] and body["errors"][field]
    assert user_count() == 0


@pytest.mark.parametrize("missing", ["email", "password", "name", "role", "country"])
def test_missing_field_is_named(client, missing):
    body = assert_problem(client.post("/api/v1/users", json={k: v for k, v in GOOD.items() if k != missing}), 422)
    assert body["errors"][missing] == ["Missing data for required field."]


def test_unknown_field_is_refused(client):
    body = assert_problem(client.post("/api/v1/users", json={**GOOD, "is_operator": True}), 422)
    assert "is_operator" in body["errors"]


def test_taken_email_is_422(client):
    UserFactory(email="jaan@example.org")
    body = assert_problem(client.post("/api/v1/users", json=GOOD), 422)
    assert "already exists" in body["errors"]["email"][0]
    assert user_count() == 1


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("not json", "application/json"), ("[1, 2]", "application/json"), ("email=a", "text/plain"), ("", None)],
)
def test_body_that_is_not_a_json_object_is_400(client, data, content_type):
    body = assert_problem(client.post("/api/v1/users", data=data, content_type=content_type), 400)
    assert "JSON object" in body["detail"]


def test_token_flow_and_me(client):
    user = UserFactory(email="fm@example.org", roles=["fund_manager", "investor"])
    response = client.post("/api/v1/tokens", json={"email": "FM@example.org", "password": "correct horse battery"})
    assert response.status_code == 201
    token = response.get_json()
    assert token["expires_at"].endswith("+00:00")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert me.status_code == 200
    body = me.get_json()
    assert body["id"] == user.id
    assert body["roles"] == ["fund_manager", "investor"]
    assert "investor_profile" in body and "classification" in body


def test_wrong_password_is_401(client):
    UserFactory(email="a@example.org")
    body = assert_problem(client.post("/api/v1/tokens", json={"email": "a@example.org", "password": "nope"}), 401)
    assert body["detail"] == "Wrong e-mail or password."


def test_unknown_email_gets_the_same_401(client):
    body = assert_problem(client.post("/api/v1/tokens", json={"email": "x@example.org", "password": "nope"}), 401)
    assert body["detail"] == "Wrong e-mail or password."


def test_sixth_failed_token_request_within_a_minute_is_429(client):
    UserFactory(email="a@example.org")
    for _ in range(5):
        assert client.post("/api/v1/tokens", json={"email": "a@example.org", "password": "nope"}).status_code == 401
    good = {"email": "a@example.org", "password": "correct horse battery"}
    assert_problem(client.post("/api/v1/tokens", json=good), 429)


def test_failed_logins_from_one_address_across_accounts_are_limited(client):
    for n in range(5):
        client.post("/api/v1/tokens", json={"email": f"nobody{n}@example.org", "password": "nope"})
    assert_problem(client.post("/api/v1/tokens", json={"email": "other@example.org", "password": "x"}), 429)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer forged.token"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}],
)
def test_me_without_a_valid_token_is_401(client, headers):
    response = client.get("/api/v1/me", headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_ignores_the_session_cookie(client, auth):
    UserFactory(email="a@example.org")
    assert auth.login("a@example.org").status_code == 302
    assert_problem(client.get("/api/v1/me"), 401)


def test_password_change_revokes_tokens(client, api_token):
    from app.accounts.passwords import set_password
    from app.core.clock import now as clock_now

    user = UserFactory(email="a@example.org")
    headers = api_token("a@example.org")
    set_password(user, "another long password", now=clock_now())
    db.session.commit()
    assert_problem(client.get("/api/v1/me", headers=headers), 401)


def test_expired_token_is_401(app, client, api_token):
    from datetime import UTC, datetime, timedelta

    UserFactory(email="a@example.org")
    headers = api_token("a@example.org")
    app.config["CLOCK"] = lambda: datetime.now(UTC) + timedelta(days=2)
    try:
        assert_problem(client.get("/api/v1/me", headers=headers), 401)
    finally:
        app.config["CLOCK"] = None


def test_unknown_route_is_problem_404(client):
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_wrong_method_is_problem_405_with_allow(client):
    response = client.delete("/api/v1/me")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_unexpected_exception_is_logged_problem_500(app, client, caplog, monkeypatch):
    from app.accounts import services

    def explode(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "register", explode)
    response = client.post("/api/v1/users", json=GOOD)
    body = assert_problem(response, 500)
    assert "database on fire" not in body["detail"]
    assert "database on fire" in caplog.text


def test_openapi_describes_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi_json":
            continue
        path = rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is missing from openapi.json"
    assert "AccountsRegistration" in spec["components"]["schemas"]
