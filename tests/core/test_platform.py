"""Configuration, permissions, audit log, pagination, health and error pages."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app import create_app
from app.core.audit import AuditEntry, audit
from app.core.errors import ValidationFailed
from app.core.pagination import page_args
from app.core.permissions import GRANTS, Permission, Role, can
from app.extensions import db
from tests.factories import UserFactory


@pytest.mark.parametrize(("unset", "named"), [("SECRET_KEY", "SECRET_KEY"), ("DATABASE_URL", "DATABASE_URL")])
def test_production_refuses_to_start_without_its_secrets(monkeypatch, unset, named):
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/greenround")
    monkeypatch.delenv(unset)
    with pytest.raises(RuntimeError, match=named):
        create_app("production")


def test_production_starts_with_its_secrets_and_uses_psycopg(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/greenround")
    app = create_app("production")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db/greenround"
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("roles", "permission", "allowed"),
    [
        (["investor"], Permission.INVEST, True),
        (["owner"], Permission.INVEST, False),
        (["owner"], Permission.CREATE_CAMPAIGN, True),
        (["investor"], Permission.REVIEW_CAMPAIGNS, False),
        (["operator"], Permission.REVIEW_CAMPAIGNS, True),
        (["regulator"], Permission.READ_DISCLOSURES, True),
        (["investor", "owner"], Permission.READ_DISCLOSURES, False),
        (["fund_manager"], Permission.INVEST, True),
        (["investor", "owner"], Permission.CREATE_CAMPAIGN, True),
    ],
)
def test_permissions_follow_the_roles_a_user_holds(roles, permission, allowed):
    assert can(UserFactory(roles=roles), permission) is allowed


def test_anonymous_can_do_nothing():
    assert not any(can(None, p) for p in Permission)


def test_every_permission_is_granted_to_some_role():
    assert set(GRANTS) == set(Permission)
    assert set().union(*GRANTS.values()) <= set(Role)


def test_audit_entries_are_recorded_and_cannot_be_changed_or_deleted():
    user = UserFactory()
    entry = audit("campaign.viewed", actor=user, subject=user, details={"why": "test"},
                  at=datetime(2026, 1, 1, tzinfo=UTC))
    db.session.commit()
    stored = db.session.scalar(select(AuditEntry).where(AuditEntry.id == entry.id))
    assert stored.actor_id == user.id and stored.subject_type == "users"
    assert stored.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    stored.action = "tampered"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.delete(stored)
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize(
    ("args", "expected"),
    [({}, (1, 20)), ({"page": "3", "per_page": "100"}, (3, 100))],
)
def test_page_args(args, expected):
    assert page_args(args) == expected


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "-1"}, "per_page"),
    ],
)
def test_bad_page_args_are_refused(args, field):
    with pytest.raises(ValidationFailed) as info:
        page_args(args)
    assert field in info.value.errors


def test_health_check(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_html_404_and_500_pages(app, client, monkeypatch, caplog):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)

    from app.campaigns import services

    monkeypatch.setattr(services, "featured", lambda limit: 1 / 0)
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "ZeroDivisionError" in caplog.text


def test_anonymous_visitor_is_sent_to_login_for_private_pages(client):
    response = client.get("/payments/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_blueprint_index_pages_work(client, auth):
    UserFactory(email="a@example.org")
    for url in ("/", "/campaigns/", "/investors/"):
        assert client.get(url).status_code == 200, url
    auth.login("a@example.org")
    page = client.get("/payments/")
    assert page.status_code == 200
    assert "You have not made any payments yet." in page.get_data(as_text=True)


def test_navigation_reflects_roles(client, auth):
    UserFactory(email="op@example.org", roles=["operator"])
    auth.login("op@example.org")
    html = client.get("/").get_data(as_text=True)
    assert "Operator" in html and "My payments" not in html
