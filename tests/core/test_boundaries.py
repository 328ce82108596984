"""Input that once gave a 500 at the boundaries: ids beyond INTEGER, JSON nested thousands deep."""

import pytest

HUGE = "99999999999999999999"
#: Beyond INTEGER but within BIGINT: PostgreSQL answered "integer out of range" (found by schemathesis).
PAST_INTEGER = str(2**31)
DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("path", [
    f"/api/v1/campaigns/{HUGE}", f"/api/v1/pledges/{HUGE}", f"/campaigns/{HUGE}", f"/payments/pledges/{HUGE}",
    f"/api/v1/campaigns/{HUGE}/instalments", f"/api/v1/bank-statements/{HUGE}/entries",
])
def test_an_id_beyond_bigint_is_a_404_not_an_overflow(client, api_token, path):
    from tests.factories import UserFactory

    headers = api_token(UserFactory(roles=["operator"]).email)
    assert client.get(path, headers=headers).status_code == 404


@pytest.mark.parametrize(("method", "path"), [
    ("get", f"/api/v1/campaigns/{PAST_INTEGER}"), ("get", f"/api/v1/pledges/{PAST_INTEGER}"),
    ("get", f"/api/v1/complaints/{PAST_INTEGER}"), ("post", f"/api/v1/pledges/{PAST_INTEGER}/revoke"),
    ("get", f"/campaigns/{PAST_INTEGER}"), ("get", f"/api/v1/campaigns/{2**31 - 1}"),
])
def test_an_id_beyond_integer_is_a_404_on_every_database(client, api_token, method, path):
    from tests.factories import UserFactory

    headers = api_token(UserFactory(roles=["investor"]).email)
    assert getattr(client, method)(path, headers=headers).status_code == 404


def test_a_complaint_naming_a_pledge_beyond_integer_is_a_422(client, api_token):
    from tests.factories import UserFactory

    headers = api_token(UserFactory(roles=["investor"]).email)
    response = client.post("/api/v1/complaints", headers=headers, json={
        "subject": "About my pledge", "body": "Something went wrong with it.", "pledge_id": 2**31})
    assert response.status_code == 422 and "pledge_id" in response.get_json()["errors"]


def test_a_multipart_field_whose_name_werkzeug_cannot_read_is_not_a_500(client, api_token):
    from tests.factories import UserFactory

    headers = api_token(UserFactory(roles=["operator"]).email)
    # An escaped quote ends the name: werkzeug gives the field the name None.
    body = b'--b\r\nContent-Disposition: form-data; name="x\\"\r\n\r\n{}\r\n--b--\r\n'
    response = client.post("/api/v1/bank-statements", data=body, headers=headers,
                           content_type="multipart/form-data; boundary=b")
    assert response.status_code < 500


@pytest.mark.parametrize("path", ["/api/v1/tokens", "/api/v1/campaigns/1/pledges", "/api/v1/me/withdrawals"])
def test_json_nested_thousands_deep_is_a_400(client, api_token, path):
    from tests.factories import UserFactory

    headers = api_token(UserFactory(roles=["investor"]).email)
    response = client.post(path, data=DEEP, content_type="application/json", headers=headers)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"


def test_json_nested_65_levels_is_a_400_and_64_is_read(client):
    deep = "[" * 65 + "]" * 65
    response = client.post("/api/v1/tokens", data=deep, content_type="application/json")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    nested: dict = {}
    node = nested
    for _ in range(62):
        node["x"] = {}
        node = node["x"]
    assert client.post("/api/v1/tokens", json={"email": "a@example.org", "password": "x", "deep": nested}
                       ).status_code == 401


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/users", {"email": "a\x00@example.org", "password": "long enough password", "name": "A",
                       "role": "investor", "country": "EE"}, "email"),
    ("/api/v1/users", {"email": "a@example.org", "password": "long enough password", "name": "A\x00",
                       "role": "investor", "country": "EE"}, "name"),
    ("/api/v1/tokens", {"email": "a@example.org", "password": "x", "nested": {"list": ["ok", "b\x00d"]}},
     "nested.list.1"),
    ("/api/v1/password-resets", {"email\x00": "a@example.org"}, "email"),
])
def test_a_nul_in_any_json_string_is_a_422_naming_the_field(client, path, body, field):
    response = client.post(path, json=body)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_a_nul_in_a_title_is_a_422_and_nothing_is_written(client, api_token):
    from sqlalchemy import func, select

    from app.campaigns.models import Campaign
    from app.extensions import db
    from tests.factories import UserFactory

    headers = api_token(UserFactory(roles=["owner"]).email)
    before = db.session.scalar(select(func.count()).select_from(Campaign))
    response = client.post("/api/v1/campaigns", headers=headers, json={"title": "Solar\x00 roofs"})
    assert response.status_code == 422 and "title" in response.get_json()["errors"]
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == before


@pytest.mark.parametrize("url", ["/campaigns/?q=sol%00ar", "/api/v1/campaigns?q=sol%00ar", "/campaigns/?%00=1"])
def test_a_nul_in_the_query_string_is_a_422(client, url):
    assert client.get(url).status_code == 422


def test_a_nul_in_a_form_field_is_a_422_not_a_database_error(client):
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": "a\x00@example.org", "password": "x", "csrf_token": token})
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)


def test_a_nul_in_a_path_segment_is_a_404(client):
    assert client.get("/password-reset/abc%00def").status_code == 404


def test_a_nul_in_an_uploads_file_name_is_a_422(client, api_token):
    from tests.factories import UserFactory

    headers = api_token(UserFactory(roles=["operator"]).email)
    boundary = "----greenround"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\x00b.xml\"\r\n"
            f"Content-Type: application/xml\r\n\r\n<x/>\r\n--{boundary}--\r\n").encode()
    response = client.post("/api/v1/bank-statements", data=body, headers=headers,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 422 and "file" in response.get_json()["errors"]
