"""ECSP Art. 16 (the projects funded in a year) and Art. 20 with Del. Reg. 2022/2115 Art. 2
(default rates: the average of three 1-year rates, numerator and denominator disclosed)."""

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.disclosures import default_rates
from app.extensions import db
from app.investors.models import Fund, InvestorProfile
from tests.conftest import post_form
from tests.disclosures.conftest import make_loan, make_pledge
from tests.factories import NOW, CampaignFactory, UserFactory


def profile(user, country: str, classification: str) -> None:
    db.session.add(InvestorProfile(user_id=user.id, legal_name=user.name, country=country, currency="EUR",
                                   annual_income=1, net_worth=1, other_platforms_amount=0,
                                   identity_status="verified", classification=classification, created_at=NOW,
                                   updated_at=NOW))


@pytest.fixture
def funded(people):
    """A project funded in NOW's year: two Estonian retail investors (one pledged twice), a Finnish
    sophisticated one, a fund, a refunded pledge that does not count; and a round that failed."""
    owner = people["owner"]
    campaign = CampaignFactory(owner=owner, status="repaying", raised_amount=9_000_00,
                               closes_at=NOW - timedelta(days=3))
    ee1, ee2, fi = (UserFactory(roles=["investor"]) for _ in range(3))
    gone = UserFactory(roles=["investor"])
    for user, country, cls in ((ee1, "EE", "non_sophisticated"), (ee2, "EE", "non_sophisticated"),
                               (fi, "FI", "sophisticated"), (gone, "LV", "non_sophisticated")):
        profile(user, country, cls)
    fund = Fund(name="Baltic Green Fund", country="LT", currency="EUR", created_at=NOW)
    db.session.add(fund)
    db.session.flush()
    for user, amount in ((ee1, 1_000_00), (ee1, 500_00), (ee2, 2_000_00), (fi, 3_000_00)):
        make_pledge(campaign, user, amount, NOW - timedelta(days=10), status="settled")
    make_pledge(campaign, people["fund_manager"], 2_500_00, NOW - timedelta(days=10), status="settled",
                fund_id=fund.id)
    make_pledge(campaign, gone, 700_00, NOW - timedelta(days=10), status="refunded")
    CampaignFactory(owner=owner, status="failed", closes_at=NOW - timedelta(days=2))
    db.session.commit()
    return campaign


def test_the_project_list_counts_each_investor_once_by_residence_and_classification(client, api_token, people,
                                                                                      funded, frozen_clock):
    headers = api_token("regulator@example.org")
    body = client.get(f"/api/v1/disclosures/reports/{NOW.year}/projects", headers=headers).get_json()
    assert body["total"] == 1
    [row] = body["items"]
    assert row == {"campaign_id": funded.id, "title": funded.title, "owner_name": people["owner"].name,
                   "owner_country": people["owner"].country, "instrument": "loan", "amount_raised": 9_000_00,
                   "currency": "EUR", "investors": 4, "investors_by_residence": {"EE": 2, "FI": 1, "LT": 1},
                   "investors_by_classification": {"non_sophisticated": 2, "professional": 1, "sophisticated": 1}}
    assert client.get(f"/api/v1/disclosures/reports/{NOW.year - 1}/projects", headers=headers).get_json()["total"] == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.subject_id.in_([f"{NOW.year}/projects", f"{NOW.year - 1}/projects"]))) == 2


def test_the_project_list_downloads_as_csv_and_xlsx(client, api_token, funded, frozen_clock):
    headers = api_token("regulator@example.org")
    response = client.get(f"/api/v1/disclosures/reports/{NOW.year}/projects?format=csv", headers=headers)
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][0] == "campaign_id" and rows[1][0] == str(funded.id) and rows[1][8] == "EE:2;FI:1;LT:1"
    xlsx = client.get(f"/api/v1/disclosures/reports/{NOW.year}/projects?format=xlsx", headers=headers)
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.cell(row=2, column=1).value == funded.id


@pytest.mark.parametrize(("url", "status"), [("/api/v1/disclosures/reports/20x6/projects", 422),
                                             ("/api/v1/disclosures/reports/1999/projects", 404),
                                             (f"/api/v1/disclosures/reports/{NOW.year}/projects?format=pdf", 422)])
def test_a_bad_year_or_format_is_refused(client, api_token, people, frozen_clock, url, status):
    assert client.get(url, headers=api_token("regulator@example.org")).status_code == status


@pytest.mark.parametrize("role", ["investor", "owner", "fund_manager"])
def test_only_regulators_and_operators_read_the_lists(client, api_token, people, role):
    headers = api_token(f"{role}@example.org")
    assert client.get(f"/api/v1/disclosures/reports/{NOW.year}/projects", headers=headers).status_code == 403
    assert client.get("/api/v1/disclosures/default-rates", headers=headers).status_code == 403


def test_default_rates_average_three_one_year_windows(people, frozen_clock):
    """Class B: window 1 (36–24 months ago) 1 of 2 loans defaults, window 2 none of 2 left (one
    defaulted before it), window 3 1 of 2 (a new loan joins): (1/2 + 0/1 + 1/2) / 3 = 33.33 %."""
    owner = people["owner"]

    def loan(started_days_ago: int, defaulted_days_ago: int | None = None):
        campaign = CampaignFactory(owner=owner, status="repaying", risk_class="B", raised_amount=1_000_00)
        make_loan(campaign, NOW - timedelta(days=started_days_ago),
                  defaulted_at=None if defaulted_days_ago is None else NOW - timedelta(days=defaulted_days_ago))

    loan(1000, 900)   # exposed in window 1, defaults in it
    loan(1000)        # exposed in all three
    loan(200, 100)    # joins in window 3 and defaults in it
    make_loan(CampaignFactory(owner=owner, status="repaying", risk_class="C"), NOW - timedelta(days=2000),
              defaulted_at=NOW - timedelta(days=1500))  # defaulted before every window: not counted
    db.session.commit()
    rates = {r["risk_class"]: r for r in default_rates.default_rates(NOW)}
    b = rates["B"]
    assert [(w["numerator"], w["denominator"]) for w in b["windows"]] == [(1, 2), (0, 1), (1, 2)]
    assert (b["numerator"], b["denominator"], b["actual_default_rate_bps"]) == (2, 5, 3333)
    assert rates["C"]["denominator"] == 0 and rates["C"]["actual_default_rate_bps"] is None
    assert rates["A"]["actual_default_rate_bps"] is None


def test_the_operator_sets_expected_rates_and_the_api_and_the_public_page_show_them(client, app, api_token, auth,
                                                                                      people, frozen_clock):
    auth.login("operator@example.org")
    bad = post_form(client, "/disclosures/expected-default-rates",
                    {"risk_class": "B", "expected_default_rate_bps": "1e3", "assumptions": "short"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "Enter basis points from 0 to 10,000" in page and "10 to 5,000 characters" in page and "1e3" in page
    good = post_form(client, "/disclosures/expected-default-rates",
                     {"risk_class": "B", "expected_default_rate_bps": "450",
                      "assumptions": "Historic SME energy-efficiency loans in the Baltics, 2015-2024."})
    assert good.status_code == 302
    body = client.get("/api/v1/disclosures/default-rates", headers=api_token("regulator@example.org")).get_json()
    b = next(r for r in body["items"] if r["risk_class"] == "B")
    assert b["expected_default_rate_bps"] == 450 and set(b) >= {"actual_default_rate_bps", "numerator", "denominator"}
    assert "Historic SME energy-efficiency loans" in app.test_client().get("/transparency").get_data(as_text=True)
    assert post_form(client, "/disclosures/expected-default-rates",
                     {"risk_class": "Z", "expected_default_rate_bps": "1", "assumptions": "x" * 20}).status_code == 404


def test_only_the_operator_sets_expected_rates(client, auth, people):
    auth.login("regulator@example.org")
    assert client.get("/disclosures/expected-default-rates").status_code == 403


def test_a_control_character_in_a_title_does_not_break_the_workbook(client, api_token, funded, frozen_clock):
    funded.title = "Heat pumps\x01 for Tartu"
    db.session.commit()
    xlsx = client.get(f"/api/v1/disclosures/reports/{NOW.year}/projects?format=xlsx",
                      headers=api_token("regulator@example.org"))
    assert xlsx.status_code == 200
    assert load_workbook(io.BytesIO(xlsx.data)).active.cell(row=2, column=2).value == "Heat pumps for Tartu"
