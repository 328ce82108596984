"""The wallet tests reuse the payment fixtures: a settable clock, a fresh sandbox gateway, and
the ledger and wallet invariants after every test."""

import pytest

from tests.factories import UserFactory
from tests.payments.conftest import _ledger_invariants, clock, investor, sandbox  # noqa: F401


@pytest.fixture
def api(client, api_token):
    """``api(user, method, path, json=None, key=None)`` with the user's bearer token."""

    def call(user, method: str, path: str, json=None, *, key: str | None = None):
        headers = api_token(user.email)
        if key is not None:
            headers["Idempotency-Key"] = key
        return client.open(f"/api/v1{path}", method=method, json=json, headers=headers)

    return call


@pytest.fixture
def operator():
    return UserFactory(roles=["operator"])
