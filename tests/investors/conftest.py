"""Fixtures for the investor tests: a settable clock, the RU profile, ready-made answers."""

from collections.abc import Iterator

import pytest
from flask import Flask

from app.investors import services
from tests.factories import NOW


class Clock:
    """What ``core.clock.now()`` returns while the fixture is active; move it with ``advance``."""

    def __init__(self, now) -> None:
        self.now = now

    def advance(self, delta) -> None:
        self.now = self.now + delta


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    current = Clock(NOW)
    app.config["CLOCK"] = lambda: current.now
    try:
        yield current
    finally:
        app.config["CLOCK"] = None


@pytest.fixture
def ru(app: Flask) -> Iterator[None]:
    """Run the test under the Russian jurisdiction profile."""
    app.config["PLATFORM_JURISDICTION"] = "RU"
    try:
        yield
    finally:
        app.config["PLATFORM_JURISDICTION"] = "EU"


def correct_answers() -> dict[str, str]:
    return {q.id: q.correct_option_id for q in services.question_bank()}


def wrong_answers() -> dict[str, str]:
    return {q.id: next(o.id for o in q.options if not o.correct) for q in services.question_bank()}


#: A valid EU profile: net worth 42,000 + 25,000 − 9,000 = EUR 58,000; 10 % = EUR 5,800.
PROFILE = {
    "legal_name": "Liisa Tamm",
    "address": "Narva mnt 5, Tallinn",
    "country": "EE",
    "currency": "EUR",
    "annual_income": 42_000_00,
    "liquid_assets": 25_000_00,
    "annual_commitments": 9_000_00,
}
