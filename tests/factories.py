"""factory_boy factories bound to the per-test session."""

from datetime import UTC, datetime, timedelta

import factory
from werkzeug.security import generate_password_hash

from app.accounts.models import User, UserRole
from app.campaigns.models import Campaign, CampaignSdg
from app.extensions import db

PASSWORD = "correct horse battery"
#: Hashing once keeps the suite fast; every factory user shares this password.
PASSWORD_HASH = generate_password_hash(PASSWORD)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    name = factory.Faker("name")
    country = "EE"
    password_hash = PASSWORD_HASH
    session_token = factory.Sequence(lambda n: f"token{n}")
    created_at = NOW

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs) -> None:
        for role in extracted or ["investor"]:
            self.roles.append(UserRole(role=role))
        if create:
            db.session.commit()


class CampaignFactory(Base):
    class Meta:
        model = Campaign

    owner = factory.SubFactory(UserFactory, roles=["owner"])
    title = factory.Sequence(lambda n: f"Heat pumps for school no. {n}")
    summary = "Ground-source heat pumps replace an oil boiler."
    description = "The school saves 60 % of its heating bill."
    category = "energy_efficiency"
    country = "EE"
    location = "Tallinn"
    currency = "EUR"
    instrument_type = "loan"
    interest_rate_bps = 650
    term_months = 36
    repayment = "annuity"
    target_amount = 100_000_00
    max_amount = 120_000_00
    min_pledge = 50_00
    raised_amount = 0
    backers_count = 0
    opens_at = NOW - timedelta(days=5)
    closes_at = NOW + timedelta(days=25)
    status = "live"
    risk_class = "B"
    co2_tonnes_per_year = 120.0
    energy_mwh_per_year = 400.0
    created_at = NOW - timedelta(days=10)
    updated_at = NOW
    sdg_links = factory.LazyFunction(lambda: [CampaignSdg(sdg=7), CampaignSdg(sdg=13)])
