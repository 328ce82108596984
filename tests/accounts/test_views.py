"""Register, log in and log out through the HTML pages."""

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.core.audit import AuditEntry
from app.extensions import db
from tests.conftest import csrf_from, post_form
from tests.factories import UserFactory

GOOD = {
    "name": "Liisa Tamm",
    "email": "Liisa@Example.org",
    "password": "a long enough password",
    "confirm": "a long enough password",
    "role": "investor",
    "country": "EE",
}


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_register_creates_investor_signs_in_and_stores_hashed_password(client):
    response = post_form(client, "/register", GOOD)
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "liisa@example.org"))
    assert user is not None and user.role_names == {"investor"}
    assert "a long enough password" not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert "Log out" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Not a valid e-mail address"),
        ({"password": "short", "confirm": "short"}, "password", "at least 10 characters"),
        ({"confirm": "something else entirely"}, "confirm", "do not match"),
        ({"role": "operator"}, "role", "Not a valid choice"),
        ({"name": ""}, "name", "This field is required"),
    ],
)
def test_bad_registration_rerenders_with_message_and_writes_nothing(client, change, field, message):
    before = user_count()
    response = post_form(client, "/register", {**GOOD, **change})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert f'id="{field}-error"' in html
    assert user_count() == before


def test_registration_with_taken_email_is_refused(client):
    UserFactory(email="liisa@example.org")
    before = user_count()
    response = post_form(client, "/register", GOOD)
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    assert user_count() == before


def test_form_post_without_csrf_token_is_refused(client):
    response = client.post("/register", data=GOOD)
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    assert user_count() == 0


def test_login_and_logout(client, auth):
    UserFactory(email="owner@example.org", roles=["owner"])
    response = auth.login("owner@example.org")
    assert response.status_code == 302
    assert "Log out" in client.get("/").get_data(as_text=True)
    assert auth.logout().status_code == 302
    assert "Log in" in client.get("/").get_data(as_text=True)


def test_login_follows_only_local_next_urls(client):
    UserFactory(email="a@example.org")
    html = client.get("/login").get_data(as_text=True)
    data = {"email": "a@example.org", "password": "correct horse battery", "csrf_token": csrf_from(html)}
    response = client.post("/login?next=https://evil.example/steal", data=data)
    assert response.headers["Location"].startswith("/") and "evil" not in response.headers["Location"]


def test_wrong_password_is_401_and_audited(client, auth):
    UserFactory(email="a@example.org")
    response = auth.login("a@example.org", "wrong password!")
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.get_data(as_text=True)
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "user.login_failed" in actions


def test_sixth_failed_login_for_one_account_within_a_minute_is_429(client, auth):
    UserFactory(email="a@example.org")
    for _ in range(5):
        assert auth.login("a@example.org", "wrong password!").status_code == 401
    response = auth.login("a@example.org", "correct horse battery")
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_successful_logins_do_not_count_toward_the_limit(client, auth):
    UserFactory(email="a@example.org")
    for _ in range(7):
        assert auth.login("a@example.org").status_code == 302
        auth.logout()


def test_changing_password_signs_out_existing_sessions(client, auth):
    from app.accounts.passwords import set_password
    from app.core.clock import now as clock_now

    user = UserFactory(email="a@example.org")
    auth.login("a@example.org")
    assert client.get("/payments/").status_code == 200
    set_password(user, "a brand new password", now=clock_now())
    db.session.commit()
    assert client.get("/payments/").status_code == 302


@pytest.mark.parametrize(("roles", "lands"), [
    (["operator"], "/operator/"), (["regulator"], "/disclosures/"), (["owner"], "/campaigns/mine"),
    (["investor"], "/investors/"),
])
def test_each_role_lands_on_its_own_work_after_login(client, auth, roles, lands):
    UserFactory(email="a@example.org", roles=roles)
    assert auth.login("a@example.org").headers["Location"] == lands


def test_a_new_investor_goes_straight_to_the_first_missing_step(client):
    html = client.get("/register").get_data(as_text=True)
    response = client.post("/register", data={
        "csrf_token": csrf_from(html), "name": "Kadri", "email": "kadri@example.org", "password": "a long password 1",
        "confirm": "a long password 1", "role": "investor", "country": "EE"})
    assert response.status_code == 302 and response.headers["Location"] == "/investors/"
