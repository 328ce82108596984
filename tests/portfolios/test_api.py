"""GET /api/v1/portfolio: the contract of API.md, its downloads, and who may call it."""

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from tests.factories import NOW
from tests.portfolios import factories as f


@pytest.fixture(autouse=True)
def clock(app):
    app.config["CLOCK"] = lambda: NOW
    yield
    app.config.pop("CLOCK", None)


def test_an_investor_gets_the_portfolio_of_the_contract(client, api_token):
    user, other = f.investor(), f.investor()
    loan = f.fund_loan(f.campaign(sdgs=[7, 13], co2_tonnes_per_year=100.0, energy_mwh_per_year=50.0),
                       [(user, 250_00), (other, 750_00)], starts_at=NOW - timedelta(days=70))
    f.pay(loan, 2)
    response = client.get("/api/v1/portfolio", headers=api_token(user.email))
    assert response.status_code == 200
    body = response.get_json()
    for key in ("currency", "invested", "outstanding_principal", "received", "expected", "xirr", "holdings",
                "allocation", "impact"):
        assert key in body
    assert set(body["allocation"]) == {"by_sdg", "by_category", "by_country", "by_risk_class"}
    assert set(body["impact"]) == {"co2_tonnes_per_year", "energy_mwh_per_year"}
    assert body["currency"] == "EUR"
    assert body["invested"] == 250_00
    assert body["received"] == body["received_principal"] + body["received_interest"]
    assert body["received_principal"] + body["outstanding_principal"] == 250_00
    assert isinstance(body["xirr"], float) and body["xirr_reason"] is None
    assert body["impact"]["co2_tonnes_per_year"] == pytest.approx(25.0)
    [holding] = body["holdings"]
    assert holding["status"] == "repaying"
    assert holding["next_instalment"]["amount"] > 0
    assert holding["next_instalment"]["due_at"].endswith("+00:00")
    assert [s["key"] for s in body["allocation"]["by_sdg"]] == ["7", "13"]
    assert body["by_currency"]["EUR"]["invested"] == 250_00
    assert body["owner"] == {"type": "investor", "id": user.id, "name": user.name}


def test_an_empty_portfolio_says_why_there_is_no_xirr(client, api_token):
    user = f.investor()
    body = client.get("/api/v1/portfolio", headers=api_token(user.email)).get_json()
    assert body["xirr"] is None
    assert body["xirr_reason_code"] == "no_flows"
    assert body["xirr_reason"].startswith("Not available")
    assert body["holdings"] == [] and body["invested"] == 0


def test_a_fund_manager_gets_the_funds_portfolio(client, api_token):
    fund, (m1, m2) = f.fund(managers=2)
    f.fund_loan(f.campaign(), [(m1, 100_00, fund.id), (m2, 300_00, fund.id)])
    body = client.get("/api/v1/portfolio", headers=api_token(m2.email)).get_json()
    assert body["owner"]["type"] == "fund" and body["owner"]["id"] == fund.id
    assert body["invested"] == 400_00 and len(body["holdings"]) == 2


@pytest.mark.parametrize(("roles", "status"), [(["owner"], 403), (["operator"], 403), (["regulator"], 403)])
def test_roles_without_a_portfolio_are_refused(client, api_token, roles, status):
    user = f.UserFactory(roles=roles)
    response = client.get("/api/v1/portfolio", headers=api_token(user.email))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


def test_no_token_is_401_and_a_session_cookie_is_not_enough(client, auth):
    user = f.investor()
    assert client.get("/api/v1/portfolio").status_code == 401
    auth.login(user.email)
    assert client.get("/api/v1/portfolio").status_code == 401


def test_csv_and_xlsx_downloads(client, api_token):
    user = f.investor()
    loan = f.fund_loan(f.campaign(title="Heat pumps"), [(user, 100_00)], starts_at=NOW - timedelta(days=40))
    f.pay(loan, 1)
    headers = api_token(user.email)
    response = client.get("/api/v1/portfolio?format=csv", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    [row] = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert row["campaign"] == "Heat pumps" and row["invested"] == "100.00"
    flows = list(csv.DictReader(io.StringIO(
        client.get("/api/v1/portfolio?format=csv&table=cash_flows", headers=headers).get_data(as_text=True))))
    assert [r["kind"] for r in flows].count("receipt") == 1
    response = client.get("/api/v1/portfolio?format=xlsx", headers=headers)
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames == ["Summary", "Holdings", "Cash flows"]
    summary = list(workbook["Summary"].iter_rows(values_only=True))
    assert summary[1][0] == "EUR" and summary[1][2] == 100
    assert len(list(workbook["Holdings"].iter_rows())) == 2


@pytest.mark.parametrize("query", ["format=pdf", "table=secrets&format=csv", "currency=XXX"])
def test_bad_parameters_are_422(client, api_token, query):
    user = f.investor()
    response = client.get(f"/api/v1/portfolio?{query}", headers=api_token(user.email))
    assert response.status_code == 422
    assert response.get_json()["errors"]


def test_the_route_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/portfolio"]["get"]
    assert "format=csv" in operation["summary"]
    assert operation["security"] == [{"bearer": []}]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    for key in ("currency", "invested", "outstanding_principal", "received", "expected", "xirr", "holdings",
                "allocation", "impact"):
        assert key in schema["properties"]
