"""The periodic report and the transparency page, on a small dataset whose figures are known."""

from datetime import UTC, datetime

import pytest

from app.extensions import db
from app.investors.models import Fund
from tests.disclosures.conftest import make_loan, make_pledge
from tests.factories import CampaignFactory, UserFactory


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def dataset(people):
    """2025: two rounds close in Q1 (one funded, one failed), two in Q2 (one funded in RUB, one cancelled)."""
    a = CampaignFactory(status="successful", closes_at=at(2025, 2, 10), raised_amount=100_000_00, risk_class="B")
    b = CampaignFactory(status="failed", closes_at=at(2025, 3, 1), raised_amount=10_000_00, risk_class="C")
    c = CampaignFactory(status="repaying", closes_at=at(2025, 5, 20), currency="RUB", raised_amount=5_000_000_00,
                        target_amount=5_000_000_00, max_amount=6_000_000_00, risk_class="A",
                        co2_tonnes_per_year=50.0, energy_mwh_per_year=100.0)
    CampaignFactory(status="cancelled", closes_at=at(2025, 4, 15), risk_class="D")
    CampaignFactory(status="draft", closes_at=at(2025, 6, 1), risk_class=None)  # never offered
    CampaignFactory(status="successful", closes_at=at(2024, 12, 31, 23, 59), raised_amount=50_000_00)
    g = CampaignFactory(status="completed", closes_at=at(2021, 6, 1), raised_amount=20_000_00, risk_class="B")
    i1, i2 = UserFactory(), UserFactory()
    manager = UserFactory(roles=["fund_manager"])
    fund = Fund(name="Baltic Green Fund", country="EE", currency="EUR", created_at=at(2024, 1, 1))
    db.session.add(fund)
    db.session.flush()
    make_pledge(a, i1, 10_000, at(2025, 1, 10))
    make_pledge(a, i1, 20_000, at(2025, 2, 1))
    make_pledge(a, i2, 30_001, at(2025, 3, 31, 23, 59, 59))
    make_pledge(a, i2, 40_000, at(2025, 1, 15), status="failed", paid=False)
    make_pledge(b, i1, 5_000, at(2025, 2, 20), status="refunded")
    make_pledge(c, manager, 1_000_000, at(2025, 4, 1), fund_id=fund.id)
    make_pledge(c, manager, 500_000, at(2025, 5, 1), fund_id=fund.id)
    make_pledge(a, i1, 99_999, at(2026, 1, 1))  # next year
    make_loan(a, at(2025, 2, 15), defaulted_at=at(2025, 6, 1))
    make_loan(c, at(2025, 6, 1))
    make_loan(g, at(2021, 6, 15), defaulted_at=at(2022, 1, 1))  # outside every 36-month window below
    db.session.commit()


def _period(report, label):
    return next(p for p in report["periods"] if p["period"] == label)


def test_the_report_has_the_known_figures(client, api_token, dataset, frozen_clock):
    report = client.get("/api/v1/disclosures/reports/2025", headers=api_token("regulator@example.org")).get_json()
    assert report["year"] == 2025
    assert [p["period"] for p in report["periods"]] == ["2025", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]

    year = _period(report, "2025")
    assert year["complete"] is True
    assert year["campaigns"] == 4
    assert year["campaigns_by_status"]["successful"] == 1
    assert year["campaigns_by_status"]["repaying"] == 1
    assert year["campaigns_by_status"]["failed"] == 1
    assert year["campaigns_by_status"]["cancelled"] == 1
    assert year["rounds_funded"] == 2 and year["rounds_failed"] == 1
    assert year["success_rate_bps"] == 6667
    assert year["amount_raised"] == {"EUR": 100_000_00, "RUB": 5_000_000_00}
    assert year["pledges"] == 6 and year["investors"] == 3
    assert year["amount_pledged"] == {"EUR": 65_001, "RUB": 1_500_000}
    assert year["average_pledge"] == {"EUR": 16_250, "RUB": 750_000}
    rates = year["default_rate_by_risk_class"]
    assert rates["B"] == {"loans": 1, "defaulted": 1, "overdue": 0, "default_rate_bps": 10_000}
    assert rates["A"] == {"loans": 1, "defaulted": 0, "overdue": 0, "default_rate_bps": 0}
    assert rates["E"] == {"loans": 0, "defaulted": 0, "overdue": 0, "default_rate_bps": None}

    q1 = _period(report, "2025-Q1")
    assert (q1["campaigns"], q1["success_rate_bps"]) == (2, 5000)
    assert q1["amount_raised"] == {"EUR": 100_000_00}
    assert (q1["pledges"], q1["investors"], q1["average_pledge"]) == (4, 2, {"EUR": 16_250})
    # As of 1 April the loan of the B-class project had not yet defaulted.
    assert q1["default_rate_by_risk_class"]["B"] == {"loans": 1, "defaulted": 0, "overdue": 0, "default_rate_bps": 0}

    q2 = _period(report, "2025-Q2")
    assert (q2["campaigns"], q2["rounds_funded"], q2["success_rate_bps"]) == (2, 1, 10_000)
    assert q2["amount_raised"] == {"RUB": 5_000_000_00}
    assert (q2["pledges"], q2["investors"], q2["average_pledge"]) == (2, 1, {"RUB": 750_000})
    assert q2["default_rate_by_risk_class"]["B"]["default_rate_bps"] == 10_000

    q3 = _period(report, "2025-Q3")
    assert (q3["campaigns"], q3["success_rate_bps"], q3["pledges"], q3["average_pledge"]) == (0, None, 0, {})


def test_the_report_as_csv(client, api_token, dataset, frozen_clock):
    response = client.get("/api/v1/disclosures/reports/2025?format=csv", headers=api_token("regulator@example.org"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "greenround-report-2025.csv" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "period,metric,key,value"
    for line in ("2025,success_rate_bps,,6667", "2025-Q1,campaigns_by_status,failed,1",
                 "2025,amount_raised,RUB,500000000", "2025,average_pledge,EUR,16250",
                 "2025,default_rate_bps,B,10000", "2025,default_rate_bps,E,", "2025-Q3,success_rate_bps,,"):
        assert line in lines


def test_the_html_report_and_its_csv(client, auth, dataset, frozen_clock):
    auth.login("operator@example.org")
    page = client.get("/disclosures/reports/2025")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "2025-Q1" in html and "66.67 %" in html and "Default rate by risk class" in html
    csv = client.get("/disclosures/reports/2025?format=csv")
    assert csv.mimetype == "text/csv" and "2025,pledges,,6" in csv.get_data(as_text=True)


def test_a_running_year_marks_its_quarters(client, api_token, people, frozen_clock):
    report = client.get("/api/v1/disclosures/reports/2026", headers=api_token("regulator@example.org")).get_json()
    q4 = _period(report, "2026-Q4")
    assert q4["started"] is True and q4["complete"] is False
    assert _period(report, "2026-Q1")["complete"] is True


@pytest.mark.parametrize(
    ("year", "status", "message"),
    [
        ("abc", 422, "four digits"),
        ("20255", 422, "four digits"),
        ("1999", 404, "reports start in 2020"),
        ("2027", 404, "has not started"),
    ],
)
def test_a_bad_year_is_refused_with_a_clear_message(client, api_token, people, frozen_clock, year, status, message):
    response = client.get(f"/api/v1/disclosures/reports/{year}", headers=api_token("regulator@example.org"))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert message in response.get_json()["detail"]
    if status == 422:
        assert "year" in response.get_json()["errors"]


def test_a_bad_year_on_the_html_page(client, auth, people, frozen_clock):
    auth.login("regulator@example.org")
    response = client.get("/disclosures/reports/2027")
    assert response.status_code == 404 and "has not started" in response.get_data(as_text=True)
    assert client.get("/disclosures/reports/20x5").status_code == 422


def test_an_unknown_format_is_a_422(client, api_token, people, frozen_clock):
    response = client.get("/api/v1/disclosures/reports/2025?format=xml", headers=api_token("regulator@example.org"))
    assert response.status_code == 422 and "format" in response.get_json()["errors"]


def test_the_transparency_page_is_public_with_the_known_figures(client, dataset, frozen_clock):
    html = client.get("/transparency").get_data(as_text=True)
    # Funded: the two 2025 rounds, one in 2024, one in 2021; 1 failed → 80.0 %.
    assert "€170,000.00" in html
    assert "80.0 %" in html
    # Loans started in the last 36 months: two, one defaulted.
    assert "50.0 %" in html
    assert "410.0" in html and "1,300.0" in html


def test_the_transparency_page_has_empty_states(client, frozen_clock):
    html = client.get("/transparency").get_data(as_text=True)
    assert "No project has been funded yet." in html
    assert "No funding round has closed yet." in html
    assert "No loan has started" in html
    assert "Impact is counted once a project is funded." in html


def test_the_transparency_page_is_linked_in_the_footer(client):
    assert 'href="/transparency"' in client.get("/").get_data(as_text=True)
