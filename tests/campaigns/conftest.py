"""Campaign test helpers: a valid draft payload and signed-in actors."""

import copy
from datetime import timedelta

import pytest

from tests.factories import NOW, UserFactory

VALID = {
    "title": "Heat pumps for Puolala school",
    "summary": "Ground-source heat pumps replace oil heating in a school for 600 pupils.",
    "description": "The school in Turku saves 60 % of its heating bill; the savings repay the loan.",
    "category": "renewable_energy",
    "sdgs": [4, 7, 13],
    "country": "FI",
    "location": "Turku",
    "currency": "EUR",
    "instrument": {"type": "loan", "interest_rate_bps": 575, "term_months": 48, "repayment": "annuity"},
    "target_amount": 320_000_00,
    "max_amount": 400_000_00,
    "min_pledge": 50_00,
    "opens_at": None,
    "closes_at": (NOW + timedelta(days=30)).isoformat(),
    "impact": {"co2_tonnes_per_year": 260, "energy_mwh_per_year": 900},
}


@pytest.fixture
def payload():
    return copy.deepcopy(VALID)


@pytest.fixture
def frozen_clock(app):
    app.config["CLOCK"] = lambda: NOW
    yield NOW
    app.config["CLOCK"] = None


@pytest.fixture
def owner_headers(api_token):
    UserFactory(email="owner@example.org", roles=["owner"])
    return api_token("owner@example.org")


@pytest.fixture
def operator_headers(api_token):
    UserFactory(email="operator@example.org", roles=["operator"])
    return api_token("operator@example.org")
