"""Who may read disclosures: the regulator and the operator; nobody else, on any route."""

import pytest

from tests.factories import UserFactory

API_ROUTES = [
    "/api/v1/disclosures/campaigns/{cid}/kiis",
    "/api/v1/disclosures/campaigns/{cid}/kiis/1.pdf",
    "/api/v1/disclosures/campaigns/{cid}/kiis/1.json",
    "/api/v1/disclosures/reports/2026",
    "/api/v1/disclosures/reports/2026?format=csv",
    "/api/v1/disclosures/exports/pledges.csv?from=2026-01-01&to=2026-12-31",
    "/api/v1/disclosures/audit-log",
    "/api/v1/disclosures/audit-log?format=csv",
]
HTML_ROUTES = [
    "/disclosures/",
    "/disclosures/campaigns/{cid}",
    "/disclosures/campaigns/{cid}/kiis/1.pdf",
    "/disclosures/campaigns/{cid}/kiis/1.json",
    "/disclosures/reports/2026",
    "/disclosures/reports/2026?format=csv",
    "/disclosures/exports/pledges.csv?from=2026-01-01&to=2026-12-31",
    "/disclosures/audit-log",
    "/disclosures/audit-log?format=csv",
]
FORBIDDEN_ROLES = ["investor", "owner", "fund_manager"]
ALLOWED_ROLES = ["regulator", "operator"]


@pytest.mark.parametrize("role", FORBIDDEN_ROLES)
@pytest.mark.parametrize("route", API_ROUTES)
def test_api_routes_are_forbidden_to_other_roles(client, api_token, people, role, route):
    """The owner is the owner of this very campaign, and is still refused."""
    response = client.get(route.format(cid=people["campaign"].id), headers=api_token(f"{role}@example.org"))
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("role", FORBIDDEN_ROLES)
@pytest.mark.parametrize("route", HTML_ROUTES)
def test_html_routes_are_forbidden_to_other_roles(client, auth, people, role, route):
    auth.login(f"{role}@example.org")
    assert client.get(route.format(cid=people["campaign"].id)).status_code == 403


@pytest.mark.parametrize("route", API_ROUTES)
def test_api_routes_need_a_token(client, people, route):
    response = client.get(route.format(cid=people["campaign"].id))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_routes_ignore_the_session_cookie(client, auth, people):
    auth.login("regulator@example.org")
    assert client.get(f"/api/v1/disclosures/campaigns/{people['campaign'].id}/kiis").status_code == 401


@pytest.mark.parametrize("route", HTML_ROUTES)
def test_html_routes_send_visitors_to_log_in(client, people, route):
    response = client.get(route.format(cid=people["campaign"].id))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ALLOWED_ROLES)
@pytest.mark.parametrize("route", API_ROUTES)
def test_api_routes_answer_the_regulator_and_the_operator(client, api_token, people, frozen_clock, role, route):
    response = client.get(route.format(cid=people["campaign"].id), headers=api_token(f"{role}@example.org"))
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("role", ALLOWED_ROLES)
@pytest.mark.parametrize("route", HTML_ROUTES)
def test_html_routes_answer_the_regulator_and_the_operator(client, auth, people, frozen_clock, role, route):
    auth.login(f"{role}@example.org")
    response = client.get(route.format(cid=people["campaign"].id))
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("post", "/api/v1/campaigns", {}),
        ("post", "/api/v1/campaigns/{cid}/approve", {"risk_class": "A"}),
        ("post", "/api/v1/campaigns/{cid}/reject", {"reason": "no"}),
        ("post", "/api/v1/campaigns/{cid}/cancel", {}),
        ("post", "/api/v1/campaigns/{cid}/pledges", {"amount": 100_00, "payment_method": "pm_card_visa"}),
    ],
)
def test_the_regulator_is_read_only(client, api_token, people, method, route, body):
    response = getattr(client, method)(route.format(cid=people["campaign"].id), json=body,
                                       headers=api_token("regulator@example.org"))
    assert response.status_code == 403


def test_nav_shows_disclosures_only_to_those_who_may_read_them(client, auth, people):
    assert "/disclosures/" not in client.get("/").get_data(as_text=True)
    auth.login("investor@example.org")
    assert "/disclosures/" not in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login("regulator@example.org")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/disclosures/"' in page and 'href="/transparency"' in page


def test_a_user_with_both_roles_may_read(client, api_token, people, frozen_clock):
    UserFactory(email="both@example.org", roles=["owner", "regulator"])
    assert client.get("/api/v1/disclosures/reports/2026", headers=api_token("both@example.org")).status_code == 200
