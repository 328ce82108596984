"""Credentials that can be revoked: one token at a time, every other one on a password change,
a reset link that works once for an hour, a logout that ends the remember-me cookie."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from app.accounts.models import ApiToken, User
from app.core.audit import AuditEntry
from app.extensions import db
from app.notifications.models import OutboxMessage
from tests.conftest import csrf_from, post_form
from tests.factories import PASSWORD, UserFactory

NEW = "a brand new long password"


@pytest.fixture
def clock(app):
    moment = {"now": datetime(2027, 3, 1, 9, 0, tzinfo=UTC)}
    app.config["CLOCK"] = lambda: moment["now"]
    yield moment
    app.config.pop("CLOCK", None)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def me(client, headers) -> int:
    return client.get("/api/v1/me", headers=headers).status_code


def reset_link(email: str) -> str:
    body = db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.to_address == email,
                                                              OutboxMessage.kind == "password_reset")).one()
    return re.search(r"http://\S+/password-reset/(\S+)", body).group(1)


# --- tokens -----------------------------------------------------------------------------------


def test_deleting_the_current_token_revokes_it_and_only_it(client, api_token):
    UserFactory(email="a@example.org")
    first, second = api_token("a@example.org"), api_token("a@example.org")
    assert client.delete("/api/v1/tokens/current", headers=first).status_code == 204
    problem(client.get("/api/v1/me", headers=first), 401)
    assert me(client, second) == 200
    problem(client.delete("/api/v1/tokens/current", headers=first), 401)
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "user.token_revoked")).all() \
        == ["user.token_revoked"]


def test_deleting_without_a_token_is_401(client):
    problem(client.delete("/api/v1/tokens/current"), 401)


def test_a_token_of_a_closed_account_opens_nothing(client, api_token):
    user = UserFactory(email="a@example.org")
    headers = api_token("a@example.org")
    user.active = False
    db.session.commit()
    problem(client.get("/api/v1/me", headers=headers), 401)


def test_a_token_signed_with_another_key_or_tampered_is_401(client, api_token):
    UserFactory(email="a@example.org")
    token = api_token("a@example.org")["Authorization"]
    problem(client.get("/api/v1/me", headers={"Authorization": token[:-2] + "xx"}), 401)


# --- password change (API) --------------------------------------------------------------------


def test_a_password_change_ends_every_other_token_and_session_but_keeps_the_one_used(client, app, api_token, auth):
    user = UserFactory(email="a@example.org")
    used, other = api_token("a@example.org"), api_token("a@example.org")
    browser = app.test_client()
    post_form(browser, "/login", {"email": "a@example.org", "password": PASSWORD})
    assert browser.get("/payments/").status_code == 200
    response = client.post("/api/v1/me/password", headers=used,
                           json={"current_password": PASSWORD, "new_password": NEW})
    assert response.status_code == 204
    assert me(client, used) == 200
    problem(client.get("/api/v1/me", headers=other), 401)
    assert browser.get("/payments/").status_code == 302
    db.session.refresh(user)
    assert check_password_hash(user.password_hash, NEW)
    problem(client.post("/api/v1/tokens", json={"email": "a@example.org", "password": PASSWORD}), 401)
    assert client.post("/api/v1/tokens", json={"email": "a@example.org", "password": NEW}).status_code == 201


@pytest.mark.parametrize(("body", "fields"), [
    ({"current_password": "not my password", "new_password": NEW}, {"current_password"}),
    ({"current_password": PASSWORD, "new_password": "short"}, {"new_password"}),
    ({"current_password": PASSWORD, "new_password": PASSWORD}, {"new_password"}),
    ({}, {"current_password", "new_password"}),
    ({"current_password": 5, "new_password": ["x"]}, {"current_password", "new_password"}),
])
def test_a_refused_password_change_names_the_fields_and_changes_nothing(client, api_token, body, fields):
    user = UserFactory(email="a@example.org")
    used, other = api_token("a@example.org"), api_token("a@example.org")
    errors = problem(client.post("/api/v1/me/password", headers=used, json=body), 422)["errors"]
    assert set(errors) == fields
    assert me(client, other) == 200
    db.session.refresh(user)
    assert check_password_hash(user.password_hash, PASSWORD)


def test_a_password_change_needs_a_token_and_a_json_object(client, api_token):
    UserFactory(email="a@example.org")
    problem(client.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW}), 401)
    headers = api_token("a@example.org")
    problem(client.post("/api/v1/me/password", headers=headers, data="nope", content_type="application/json"), 400)


# --- password reset (API) ---------------------------------------------------------------------


def test_a_reset_is_answered_alike_for_known_and_unknown_addresses(client):
    UserFactory(email="a@example.org")
    known = client.post("/api/v1/password-resets", json={"email": "A@example.org"})
    unknown = client.post("/api/v1/password-resets", json={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_data() == unknown.get_data()
    assert db.session.scalars(select(OutboxMessage.to_address).where(OutboxMessage.kind == "password_reset")).all() \
        == ["a@example.org"]


def test_a_reset_link_sets_the_password_once_and_ends_every_token(client, api_token, clock):
    user = UserFactory(email="a@example.org")
    headers = api_token("a@example.org")
    client.post("/api/v1/password-resets", json={"email": "a@example.org"})
    secret = reset_link("a@example.org")
    confirm = {"token": secret, "new_password": NEW}
    assert client.post("/api/v1/password-resets/confirm", json=confirm).status_code == 204
    problem(client.get("/api/v1/me", headers=headers), 401)
    db.session.refresh(user)
    assert check_password_hash(user.password_hash, NEW)
    again = problem(client.post("/api/v1/password-resets/confirm", json={"token": secret, "new_password": NEW + "!"}),
                    422)
    assert set(again["errors"]) == {"token"}
    db.session.refresh(user)
    assert check_password_hash(user.password_hash, NEW)


def test_a_reset_link_expires_after_an_hour(client, clock):
    user = UserFactory(email="a@example.org")
    client.post("/api/v1/password-resets", json={"email": "a@example.org"})
    secret = reset_link("a@example.org")
    clock["now"] += timedelta(hours=1, seconds=1)
    assert set(problem(client.post("/api/v1/password-resets/confirm", json={"token": secret, "new_password": NEW}),
                       422)["errors"]) == {"token"}
    db.session.refresh(user)
    assert check_password_hash(user.password_hash, PASSWORD)


@pytest.mark.parametrize(("body", "fields"), [
    ({"token": "made-up", "new_password": NEW}, {"token"}),
    ({"token": "x" * 500, "new_password": NEW}, {"token"}),
    ({"new_password": NEW}, {"token"}),
    ({"token": "made-up", "new_password": "short"}, {"new_password"}),
])
def test_a_bad_reset_confirmation_is_a_422_naming_the_field(client, body, fields):
    assert set(problem(client.post("/api/v1/password-resets/confirm", json=body), 422)["errors"]) == fields


def test_a_too_short_password_leaves_the_link_usable(client, clock):
    UserFactory(email="a@example.org")
    client.post("/api/v1/password-resets", json={"email": "a@example.org"})
    secret = reset_link("a@example.org")
    problem(client.post("/api/v1/password-resets/confirm", json={"token": secret, "new_password": "short"}), 422)
    confirm = {"token": secret, "new_password": NEW}
    assert client.post("/api/v1/password-resets/confirm", json=confirm).status_code == 204


def test_reset_requests_are_limited_to_five_an_hour_per_address(app, client):
    for _ in range(5):
        assert client.post("/api/v1/password-resets", json={"email": "x@example.org"}).status_code == 202
    limited = problem(client.post("/api/v1/password-resets", json={"email": "y@example.org"}), 429)
    assert limited["status"] == 429
    assert client.post("/api/v1/password-resets", json={"email": "y@example.org"}).headers.get("Retry-After")


@pytest.mark.parametrize(("route", "config", "body"), [
    ("/api/v1/tokens", "TOKENS_PER_ADDRESS", {"email": "a@example.org", "password": PASSWORD}),
    ("/api/v1/users", "REGISTRATIONS_PER_ADDRESS", {"email": "new@example.org", "password": "short"}),
])
def test_token_issuance_and_registration_are_rate_limited_per_address(app, client, route, config, body):
    UserFactory(email="a@example.org")
    allowed = int(app.config[config].split()[0])
    for _ in range(allowed):
        assert client.post(route, json=body).status_code != 429
    response = client.post(route, json=body)
    problem(response, 429)
    assert response.headers.get("Retry-After")


# --- the pages --------------------------------------------------------------------------------


def test_after_logout_the_remember_cookie_opens_nothing(app, client, auth):
    UserFactory(email="a@example.org")
    post_form(client, "/login", {"email": "a@example.org", "password": PASSWORD, "remember": "y"})
    cookie = client.get_cookie("remember_token")
    assert cookie is not None
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("remember_token", cookie.value)
    assert thief.get("/payments/").status_code == 302


def test_logging_in_starts_a_new_session(client):
    UserFactory(email="a@example.org")
    before = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": "a@example.org", "password": PASSWORD, "csrf_token": before})
    after = csrf_from(client.get("/account/security").get_data(as_text=True))
    assert after != before


def test_the_security_page_lists_live_tokens_and_revokes_one(client, api_token, auth):
    UserFactory(email="a@example.org")
    headers = api_token("a@example.org")
    auth.login("a@example.org")
    page = client.get("/account/security").get_data(as_text=True)
    token_id = db.session.scalars(select(ApiToken.id)).one()
    assert f"/account/tokens/{token_id}/revoke" in page
    response = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert me(client, headers) == 401
    assert f"/account/tokens/{token_id}/revoke" not in client.get("/account/security").get_data(as_text=True)


def test_no_one_revokes_another_users_token_and_no_revocation_without_csrf(client, api_token, auth):
    UserFactory(email="a@example.org")
    UserFactory(email="b@example.org")
    headers = api_token("a@example.org")
    token_id = db.session.scalars(select(ApiToken.id)).one()
    auth.login("b@example.org")
    page = client.get("/account/security").get_data(as_text=True)
    assert client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_from(page)}).status_code == 404
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 400
    assert me(client, headers) == 200


def test_the_password_page_rerenders_a_wrong_current_password_and_changes_a_right_one(app, client, auth):
    user = UserFactory(email="a@example.org")
    other = app.test_client()
    post_form(other, "/login", {"email": "a@example.org", "password": PASSWORD})
    auth.login("a@example.org")
    wrong = post_form(client, "/account/password", {"current_password": "nope", "new_password": NEW, "confirm": NEW},
                      page="/account/security")
    assert wrong.status_code == 422 and "That is not your current password." in wrong.get_data(as_text=True)
    mismatch = post_form(client, "/account/password", {"current_password": PASSWORD, "new_password": NEW,
                                                        "confirm": NEW + "x"}, page="/account/security")
    assert mismatch.status_code == 422 and "The passwords do not match." in mismatch.get_data(as_text=True)
    db.session.refresh(user)
    assert check_password_hash(user.password_hash, PASSWORD)
    done = post_form(client, "/account/password", {"current_password": PASSWORD, "new_password": NEW,
                                                    "confirm": NEW}, page="/account/security")
    assert done.status_code == 302
    assert client.get("/payments/").status_code == 200
    assert other.get("/payments/").status_code == 302


def test_the_reset_pages_work_once_without_telling_who_has_an_account(client, clock):
    UserFactory(email="a@example.org")
    sent = post_form(client, "/password-reset", {"email": "a@example.org"})
    unknown = post_form(client, "/password-reset", {"email": "nobody@example.org"})
    assert sent.status_code == unknown.status_code == 202
    assert "If a@example.org belongs to a GreenRound account" in sent.get_data(as_text=True)
    secret = reset_link("a@example.org")
    assert client.get(f"/password-reset/{secret}").status_code == 200
    short = post_form(client, f"/password-reset/{secret}", {"new_password": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 10 characters" in short.get_data(as_text=True)
    done = post_form(client, f"/password-reset/{secret}", {"new_password": NEW, "confirm": NEW})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert client.get(f"/password-reset/{secret}").status_code == 410
    assert post_form(client, "/login", {"email": "a@example.org", "password": NEW}).status_code == 302
    assert client.get("/password-reset/not-a-real-token").status_code == 410


def test_the_login_page_links_to_the_reset(client):
    assert "/password-reset" in client.get("/login").get_data(as_text=True)


# --- erasure asks for the password on the API too ----------------------------------------------


@pytest.mark.parametrize(("body", "field"), [({"confirm": True}, "password"),
                                             ({"confirm": True, "password": "not mine"}, "password")])
def test_api_erasure_needs_the_password(client, api_token, body, field):
    user = UserFactory(email="a@example.org", roles=["investor"])
    headers = api_token("a@example.org")
    assert field in problem(client.post("/api/v1/me/erasure", headers=headers, json=body), 422)["errors"]
    assert db.session.get(User, user.id).active


def test_api_erasure_with_the_password_erases(client, api_token):
    user = UserFactory(email="a@example.org", roles=["investor"])
    headers = api_token("a@example.org")
    response = client.post("/api/v1/me/erasure", headers=headers, json={"confirm": True, "password": PASSWORD})
    assert response.status_code == 200
    assert not db.session.get(User, user.id).active


def test_failures_from_other_addresses_do_not_lock_the_owner_out(client):
    UserFactory(email="victim@example.org")
    for n in range(6):
        client.post("/api/v1/tokens", json={"email": "victim@example.org", "password": "guess"},
                    environ_overrides={"REMOTE_ADDR": f"203.0.113.{n + 1}"})
    own = client.post("/api/v1/tokens", json={"email": "victim@example.org", "password": PASSWORD},
                      environ_overrides={"REMOTE_ADDR": "198.51.100.7"})
    assert own.status_code == 201


def test_opening_a_reset_link_signs_no_one_out(client, auth):
    UserFactory(email="a@example.org")
    auth.login("a@example.org")
    assert client.get("/password-reset/not-a-real-token").status_code == 410
    assert client.get("/payments/").status_code == 200
