"""Security headers on HTML pages, API answers and downloads alike."""

from app import create_app

EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def assert_secured(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.headers.get(name))
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in \
        csp.split("script-src")[1].split(";")[0]


def test_html_api_and_download_responses_carry_the_security_headers(client, auth, api_token):
    from tests.factories import UserFactory

    assert_secured(client.get("/"))
    assert_secured(client.get("/login"))
    assert_secured(client.get("/api/v1/openapi.json"))
    assert_secured(client.get("/api/v1/me/wallet"))  # a 401 problem too
    user = UserFactory(roles=["regulator"])
    response = client.get("/api/v1/disclosures/reports", headers=api_token(user.email))
    assert_secured(response)


def test_no_hsts_over_plain_http_in_development_but_hsts_in_production(monkeypatch):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECURITY_HSTS": True})
    response = app.test_client().get("/healthz", base_url="https://greenround.example")
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    dev = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert "Strict-Transport-Security" not in dev.test_client().get("/healthz", base_url="https://x.example").headers
