"""Input that once gave a 500 at the boundaries: ids beyond BIGINT, JSON nested thousands deep."""

import pytest

HUGE = "99999999999999999999"
DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("path", [
    f"/api/v1/campaigns/{HUGE}", f"/api/v1/pledges/{HUGE}", f"/campaigns/{HUGE}", f"/payments/pledges/{HUGE}",
    f"/api/v1/campaigns/{HUGE}/instalments", f"/api/v1/bank-statements/{HUGE}/entries",
])
def test_an_id_beyond_bigint_is_a_404_not_an_overflow(client, api_token, path):
    from tests.factories import UserFactory

    headers = api_token(UserFactory(roles=["operator"]).email)
    assert client.get(path, headers=headers).status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/tokens", "/api/v1/campaigns/1/pledges", "/api/v1/me/withdrawals"])
def test_json_nested_thousands_deep_is_a_400(client, api_token, path):
    from tests.factories import UserFactory

    headers = api_token(UserFactory(roles=["investor"]).email)
    response = client.post(path, data=DEEP, content_type="application/json", headers=headers)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
