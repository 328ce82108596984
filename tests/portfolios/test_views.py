"""Portfolio pages and downloads: who sees what, charts inline, sorting, CSV and XLSX."""

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.payments.models import Pledge
from app.portfolios import services
from tests.factories import NOW
from tests.portfolios import factories as f


@pytest.fixture
def clock(app):
    app.config["CLOCK"] = lambda: NOW
    yield
    app.config.pop("CLOCK", None)


@pytest.fixture
def citizen(clock):
    """A citizen with a repaying loan and an open round, and another citizen in the same loan."""
    user, other = f.investor(), f.investor()
    loan = f.fund_loan(f.campaign(title="=HYPERLINK(\"x\") Solar roof", interest_rate_bps=600, term_months=12),
                       [(user, 600_00), (other, 400_00)], starts_at=NOW - timedelta(days=100))
    f.pay(loan, 3)
    f.pledge(f.campaign(status="live", title="Harbour heat pumps"), user, 150_00, status="paid")
    return user, other


def test_the_citizen_sees_figures_charts_and_holdings(client, auth, citizen):
    user, _ = citizen
    auth.login(user.email)
    response = client.get("/portfolio/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/portfolio/investors/{user.id}")
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Your portfolio" in html
    assert html.count("<svg") >= 5  # cash flows, four allocations, impact
    assert "<script" not in html.split("<main", 1)[1]  # charts need no JavaScript...
    assert "kozea.github.io" not in html and "cdn" not in html.lower()  # ...and no CDN
    assert "Solar roof" in html and "Harbour heat pumps" in html
    assert 'data-xirr="' in html
    assert 'href="/portfolio/portfolio' not in html
    assert f"/portfolio/investors/{user.id}/holdings.xlsx" in html


def test_the_nav_links_to_the_portfolio_for_those_who_have_one(client, auth, citizen):
    user, _ = citizen
    auth.login(user.email)
    assert 'href="/portfolio/"' in client.get("/").get_data(as_text=True)


def test_an_investor_never_sees_another_ones_portfolio(client, auth, citizen):
    user, other = citizen
    auth.login(other.email)
    assert client.get(f"/portfolio/investors/{user.id}").status_code == 404
    assert client.get(f"/portfolio/investors/{user.id}/holdings.csv").status_code == 404
    assert client.get(f"/portfolio/investors/{other.id}").status_code == 200


def test_anonymous_visitors_are_asked_to_log_in_and_owners_have_no_portfolio(client, auth, citizen):
    user, _ = citizen
    response = client.get(f"/portfolio/investors/{user.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    owner = f.UserFactory(roles=["owner"])
    auth.login(owner.email)
    assert client.get(f"/portfolio/investors/{user.id}").status_code == 403


def test_every_manager_of_a_fund_sees_it_and_no_one_else(client, auth, clock):
    fund, (m1, m2) = f.fund(managers=2)
    other_fund, (outsider,) = f.fund(name="Other Fund")
    f.fund_loan(f.campaign(title="Ferry retrofit"), [(m1, 500_00, fund.id)])
    for manager in (m1, m2):
        auth.login(manager.email)
        response = client.get("/portfolio/")
        assert response.headers["Location"].endswith(f"/portfolio/funds/{fund.id}")
        html = client.get(f"/portfolio/funds/{fund.id}").get_data(as_text=True)
        assert "Ferry retrofit" in html and fund.name in html
        auth.logout()
    auth.login(outsider.email)
    assert client.get(f"/portfolio/funds/{fund.id}").status_code == 404
    assert client.get(f"/portfolio/funds/{fund.id}/cashflows.xlsx").status_code == 404
    assert client.get(f"/portfolio/funds/{other_fund.id}").status_code == 200


def test_the_holdings_table_sorts_on_the_server(client, auth, clock):
    user = f.investor()
    for title, amount in (("Bravo", 300_00), ("Alpha", 100_00), ("Charlie", 200_00)):
        f.fund_loan(f.campaign(title=title), [(user, amount)])
    auth.login(user.email)
    base = f"/portfolio/investors/{user.id}"

    def order(query: str) -> list[str]:
        html = client.get(base + query).get_data(as_text=True)
        table = html.split('class="striped holdings"', 1)[1].split("</table>", 1)[0]
        return sorted(("Alpha", "Bravo", "Charlie"), key=table.index)

    assert order("?sort=amount&dir=asc") == ["Alpha", "Charlie", "Bravo"]
    assert order("?sort=amount&dir=desc") == ["Bravo", "Charlie", "Alpha"]
    assert order("?sort=campaign&dir=asc") == ["Alpha", "Bravo", "Charlie"]
    html = client.get(base + "?sort=amount&dir=asc").get_data(as_text=True)
    assert 'aria-sort="ascending"' in html
    assert "sort=amount&amp;dir=desc" in html  # the header link flips the order
    assert client.get(base + "?sort=nonsense&dir=up&page=x").status_code == 200


def _page_ids(client, url: str) -> list[int]:
    table = client.get(url).get_data(as_text=True).split('class="striped holdings"', 1)[1].split("</table>", 1)[0]
    return [int(pledge_id) for pledge_id in re.findall(r'<tr id="holding-(\d+)">', table)]


def test_the_sort_orders_all_holdings_across_the_pages(client, auth, clock):
    """The table shows 50 rows a page, but sorts every holding first: page 2 continues page 1."""
    user = f.investor()
    f.bulk_holdings(user, 120)
    auth.login(user.email)
    base = f"/portfolio/investors/{user.id}"
    pledges = db.session.execute(select(Pledge.id, Pledge.amount).where(Pledge.investor_id == user.id)).all()
    by_amount = [pledge_id for pledge_id, _ in sorted(pledges, key=lambda p: (p.amount, p.id))]
    for direction, expected in (("asc", by_amount), ("desc", by_amount[::-1])):
        shown = [pledge_id for page in (1, 2, 3) for pledge_id in
                 _page_ids(client, f"{base}?sort=amount&dir={direction}&page={page}")]
        assert shown == expected
    assert _page_ids(client, f"{base}?sort=amount&dir=asc&page=99") == by_amount[100:]  # the last page


def test_a_page_builds_only_the_holdings_it_shows(client, auth, clock, monkeypatch):
    user = f.investor()
    f.bulk_holdings(user, 120)
    auth.login(user.email)
    built = []
    holding = services.HoldingTable.holding
    monkeypatch.setattr(services.HoldingTable, "holding", lambda table, i: built.append(i) or holding(table, i))
    html = client.get(f"/portfolio/investors/{user.id}?page=3").get_data(as_text=True)
    assert "120 holdings in EUR" in html and "page 3 of 3" in html
    assert len(built) == 20


def test_holdings_csv(client, auth, citizen):
    user, _ = citizen
    auth.login(user.email)
    response = client.get(f"/portfolio/investors/{user.id}/holdings.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 2
    by_title = {row["campaign"]: row for row in rows}
    solar = by_title["'=HYPERLINK(\"x\") Solar roof"]  # a formula is written inert
    assert solar["invested"] == "600.00" and solar["currency"] == "EUR"
    assert solar["status"] == "Repaying"
    assert float(solar["received_principal"]) > 0
    assert float(solar["received_principal"]) + float(solar["outstanding_principal"]) == pytest.approx(600.00)
    assert by_title["Harbour heat pumps"]["invested"] == "150.00"
    assert by_title["Harbour heat pumps"]["next_instalment_due"] == ""


def test_cash_flows_csv_lists_each_flow(client, auth, citizen):
    user, _ = citizen
    auth.login(user.email)
    response = client.get(f"/portfolio/investors/{user.id}/cashflows.csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    kinds = [row["kind"] for row in rows]
    assert kinds.count("investment") == 2
    assert kinds.count("receipt") == 3
    assert kinds.count("expected") == 9
    assert [row["date"] for row in rows] == sorted(row["date"] for row in rows)
    invested = [row for row in rows if row["kind"] == "investment"]
    assert sorted(float(row["amount"]) for row in invested) == [-600.00, -150.00]
    flows = [row for row in rows if row["kind"] in ("receipt", "expected")]
    assert sum(float(row["principal"]) for row in flows) == pytest.approx(600.00)


def test_xlsx_downloads_open_in_a_spreadsheet(client, auth, citizen):
    user, _ = citizen
    auth.login(user.email)
    response = client.get(f"/portfolio/investors/{user.id}/holdings.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[:3] == ("pledge_id", "campaign_id", "campaign")
    assert len(body) == 2
    solar = next(row for row in body if "Solar roof" in row[2])
    assert solar[2].startswith("=HYPERLINK")  # kept as text, not run as a formula
    assert sheet.cell(row=body.index(solar) + 2, column=3).data_type == "s"
    assert solar[header.index("invested")] == 600
    flows = load_workbook(io.BytesIO(client.get(f"/portfolio/investors/{user.id}/cashflows.xlsx").data)).active
    kinds = [row[2] for row in flows.iter_rows(min_row=2, values_only=True)]
    assert kinds.count("receipt") == 3 and kinds.count("investment") == 2


def test_unknown_downloads_are_404(client, auth, citizen):
    user, _ = citizen
    auth.login(user.email)
    assert client.get(f"/portfolio/investors/{user.id}/holdings.pdf").status_code == 404
    assert client.get(f"/portfolio/investors/{user.id}/secrets.csv").status_code == 404


def test_an_empty_portfolio_explains_itself(client, auth, clock):
    user = f.investor()
    auth.login(user.email)
    html = client.get(f"/portfolio/investors/{user.id}").get_data(as_text=True)
    assert "Nothing invested yet" in html


def test_a_portfolio_in_two_currencies_offers_a_switch(client, auth, clock):
    user = f.investor()
    f.fund_loan(f.campaign(currency="EUR", title="Euro project"), [(user, 100_00)])
    f.fund_loan(f.campaign(currency="RUB", title="Rouble project", max_amount=10**9), [(user, 50_000_00)])
    auth.login(user.email)
    base = f"/portfolio/investors/{user.id}"
    html = client.get(base).get_data(as_text=True)
    assert "never added together" in html
    assert "Euro project" in html and "Rouble project" not in html.split('class="striped holdings"')[1]
    html = client.get(base + "?currency=RUB").get_data(as_text=True)
    assert "Rouble project" in html.split('class="striped holdings"')[1]


def test_the_page_renders_in_russian(client, auth, citizen):
    user, _ = citizen
    auth.login(user.email)
    response = client.get(f"/portfolio/investors/{user.id}", headers={"Accept-Language": "ru"})
    assert response.status_code == 200
