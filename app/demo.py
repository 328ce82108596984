"""Demo data: one user per role and a dozen campaigns around the Baltic Sea."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from app.accounts.models import User
from app.accounts.services import create_user, find_by_email
from app.campaigns.models import Campaign, CampaignSdg
from app.core.permissions import Role
from app.extensions import db
from app.investors.demo import seed_investors

DEMO_PASSWORD = "greenround-demo"

DEMO_USERS = [
    ("investor@demo.greenround.eu", "Liisa Tamm", "EE", [Role.INVESTOR]),
    ("owner@demo.greenround.eu", "Baltic Retrofit OÜ", "EE", [Role.OWNER]),
    ("owner.ru@demo.greenround.eu", "Nevsky Svet LLC", "RU", [Role.OWNER]),
    ("turku@demo.greenround.eu", "Turku Energy Services Oy", "FI", [Role.OWNER]),
    ("riga@demo.greenround.eu", "Rīgas Saules Enerģija SIA", "LV", [Role.OWNER]),
    ("ports@demo.greenround.eu", "Baltic Port Power sp. z o.o.", "PL", [Role.OWNER]),
    ("symbiosis@demo.greenround.eu", "Kalundborg Heat ApS", "DK", [Role.OWNER]),
    ("fund@demo.greenround.eu", "Mikko Virtanen (Itämeri Green Fund)", "FI", [Role.FUND_MANAGER]),
    ("operator@demo.greenround.eu", "Platform Operator", "EE", [Role.OPERATOR]),
    ("regulator@demo.greenround.eu", "Finantsinspektsioon Reviewer", "EE", [Role.REGULATOR]),
]


@dataclass
class SeedReport:
    accounts: list[tuple[str, str, str]] = field(default_factory=list)
    campaigns_created: int = 0
    campaigns_existing: int = 0
    investor_steps: list[str] = field(default_factory=list)


# (owner e-mail, title, summary, category, country, location, currency, rate bps, term,
#  repayment, target (major units), status, days from now to close, sdgs, co2 t/yr, MWh/yr,
#  share of target raised in percent, risk class)
DEMO_CAMPAIGNS = [
    ("owner.ru", "LED street lighting for Vasileostrovsky district", "Replace 2,400 sodium street lamps in a St Petersburg district with dimmable LEDs.", "energy_efficiency", "RU", "St Petersburg", "RUB", 1400, 36, "annuity", 45_000_000, "live", 21, [7, 11, 13], 1850, 3100, 62, "B"),
    ("owner", "Insulating a Lasnamäe apartment block", "Deep renovation of a 1970s panel block in Tallinn: facade insulation, new windows, heat recovery.", "energy_efficiency", "EE", "Tallinn", "EUR", 650, 60, "annuity", 480_000, "live", 12, [7, 11, 13], 210, 740, 81, "B"),
    ("turku", "Heat pumps for Puolala school in Turku", "Ground-source heat pumps replace oil heating in a school for 600 pupils.", "renewable_energy", "FI", "Turku", "EUR", 575, 48, "annuity", 320_000, "live", 30, [4, 7, 13], 260, 900, 35, "A"),
    ("riga", "Solar roof on the Riga Central Market pavilions", "A 900 kWp rooftop solar plant on the historic market pavilions.", "renewable_energy", "LV", "Riga", "EUR", 700, 84, "annuity", 750_000, "live", 45, [7, 9, 11], 420, 810, 18, "C"),
    ("ports", "Shore power for the port of Gdańsk ferry quay", "Grid connection lets ferries switch off their diesel generators at berth.", "clean_shipping", "PL", "Gdańsk", "EUR", 800, 72, "bullet", 1_200_000, "approved", 60, [7, 13, 14], 3100, 0, 0, "C"),
    ("ports", "Electric harbour tug for Klaipėda", "A battery-electric tug for the port of Klaipėda, charged from wind power.", "clean_shipping", "LT", "Klaipėda", "EUR", 850, 60, "annuity", 900_000, "successful", -20, [9, 13, 14], 1500, 0, 104, "C"),
    ("owner", "Biogas from Tartu food waste", "Anaerobic digestion of municipal food waste into biomethane for city buses.", "circular_economy", "EE", "Tartu", "EUR", 900, 48, "annuity", 400_000, "failed", -10, [7, 11, 12], 950, 2200, 41, "D"),
    ("symbiosis", "Industrial symbiosis at Kalundborg", "Waste heat from a refinery warms 3,000 homes through a new exchanger.", "industrial_symbiosis", "DK", "Kalundborg", "EUR", 600, 96, "annuity", 1_500_000, "repaying", -200, [9, 12, 13], 5200, 14000, 100, "A"),
    ("symbiosis", "Community wind turbine on Saaremaa", "One 4 MW turbine owned with the island's residents.", "renewable_energy", "EE", "Kuressaare", "EUR", 750, 120, "annuity", 2_000_000, "submitted", 50, [7, 13], 6000, 11000, 0, None),
    ("owner", "E-bike sharing for Vilnius suburbs", "400 electric bikes and 40 solar charging docks for commuters.", "clean_transport", "LT", "Vilnius", "EUR", 0, None, None, 60_000, "live", 9, [3, 11, 13], 150, 0, 55, "B"),
    ("owner.ru", "Energy-efficient heating in Kaliningrad schools", "Individual heating substations with weather control for six schools.", "energy_efficiency", "RU", "Kaliningrad", "RUB", 1300, 48, "annuity", 30_000_000, "live", 25, [4, 7, 13], 900, 2600, 47, "B"),
    ("owner.ru", "Solar panels for a Petrozavodsk fish farm", "A 300 kWp solar array and batteries for an off-grid trout farm on Lake Onega.", "sustainable_agriculture", "RU", "Petrozavodsk", "RUB", 1500, 36, "bullet", 18_000_000, "draft", 70, [2, 7, 14], 240, 290, 0, None),
]


def _ensure_user(email: str, name: str, country: str, roles: list[Role], now: datetime) -> User:
    user = find_by_email(email)
    if user is None:
        user = create_user(email=email, password=DEMO_PASSWORD, name=name, country=country, roles=roles, now=now)
    return user


def seed(now: datetime) -> SeedReport:
    """Create whatever of the demo is missing. Campaigns are matched by title."""
    report = SeedReport()
    owners: dict[str, User] = {}
    for email, name, country, roles in DEMO_USERS:
        user = _ensure_user(email, name, country, roles, now)
        owners[email.split("@")[0]] = user
        report.accounts.append((email, DEMO_PASSWORD, ", ".join(r.value for r in roles)))
    existing = set(db.session.scalars(select(Campaign.title)))
    for (owner_key, title, summary, category, country, location, currency, rate, term, repayment,
         target_major, status, close_days, sdgs, co2, mwh, raised_pct, risk) in DEMO_CAMPAIGNS:
        if title in existing:
            report.campaigns_existing += 1
            continue
        target = target_major * 100
        closes_at = (now + timedelta(days=close_days)).replace(hour=18, minute=0, second=0, microsecond=0)
        raised = target * raised_pct // 100
        campaign = Campaign(
            owner_id=owners[owner_key].id,
            title=title,
            summary=summary,
            description=summary + " Savings on energy bills repay the loan; measured savings are published quarterly.",
            category=category,
            country=country,
            location=location,
            currency=currency,
            instrument_type="donation" if rate == 0 else "loan",
            interest_rate_bps=rate or None,
            term_months=term,
            repayment=repayment,
            target_amount=target,
            max_amount=target * 5 // 4,
            min_pledge=10_000 if currency == "RUB" else 5_000,
            raised_amount=min(raised, target * 5 // 4),
            backers_count=raised // (50_000 if currency == "EUR" else 2_000_000) if raised else 0,
            opens_at=None if status in ("draft", "submitted") else now - timedelta(days=30),
            closes_at=closes_at,
            status=status,
            risk_class=risk,
            co2_tonnes_per_year=co2,
            energy_mwh_per_year=mwh,
            created_at=now - timedelta(days=40),
            updated_at=now,
            sdg_links=[CampaignSdg(sdg=s) for s in sdgs],
        )
        db.session.add(campaign)
        report.campaigns_created += 1
    db.session.flush()
    report.investor_steps = seed_investors(owners, now=now)
    return report
