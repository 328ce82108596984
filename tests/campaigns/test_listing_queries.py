"""Browsing costs the same however many campaigns there are: a constant number of SQL
statements per list request, and (on PostgreSQL) a plan that reads the page in index order."""

from datetime import timedelta

import pytest
from sqlalchemy import event, text

from app.campaigns import services
from app.campaigns.models import CampaignSdg
from app.extensions import db
from tests.factories import NOW, CampaignFactory, UserFactory

pytestmark = pytest.mark.usefixtures("frozen_clock")

URLS = (
    "/campaigns/",
    "/campaigns/?status=live&category=energy_efficiency",
    "/campaigns/?status=live&sdg=7&sort=newest",
    "/api/v1/campaigns",
    "/api/v1/campaigns?status=live&category=energy_efficiency",
    "/api/v1/campaigns?country=EE&sort=funded&per_page=50",
)
STATUSES = ("live", "live", "successful", "failed", "repaying", "approved", "draft")
CATEGORIES = ("energy_efficiency", "renewable_energy", "water")


def _statements(fn) -> list[str]:
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = db.engines[None]
    event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


def _add_campaigns(owner, count: int, start: int) -> None:
    for i in range(start, start + count):
        CampaignFactory(owner=owner, status=STATUSES[i % 7], category=CATEGORIES[i % 3],
                        country="EE" if i % 2 else "LV", raised_amount=(i * 7919) % 100_000_00,
                        closes_at=NOW + timedelta(days=1 + i % 40),
                        sdg_links=[CampaignSdg(sdg=s) for s in sorted({7, 1 + i % 17})])


def _request_counts(client) -> dict[str, int]:
    counts = {}
    for url in URLS:
        client.get(url)  # the first request may load things once (translations, compiled statements)
        response = None

        def get(url=url) -> None:
            nonlocal response
            response = client.get(url)

        counts[url] = len(_statements(get))
        assert response.status_code == 200, url
    return counts


def test_list_page_and_api_list_run_the_same_queries_for_3_and_60_campaigns(client):
    owner = UserFactory(roles=["owner"])
    _add_campaigns(owner, 3, 0)
    small = _request_counts(client)
    _add_campaigns(owner, 57, 3)
    body = client.get("/api/v1/campaigns?per_page=100").get_json()
    assert body["total"] == 52 and len(body["items"]) == 52  # every status but draft is public
    assert _request_counts(client) == small
    # the page, its SDGs and the count: no owner join, no query per campaign
    assert small["/api/v1/campaigns?status=live&category=energy_efficiency"] <= 3
    assert small["/campaigns/?status=live&category=energy_efficiency"] <= 3


def test_filtered_listing_keeps_its_order_and_exact_total(client):
    owner = UserFactory(roles=["owner"])
    _add_campaigns(owner, 80, 0)
    body = client.get("/api/v1/campaigns?status=live&category=energy_efficiency&per_page=3").get_json()
    everything = client.get("/api/v1/campaigns?per_page=100").get_json()["items"]
    matching = [c for c in everything if c["status"] == "live" and c["category"] == "energy_efficiency"]
    assert body["total"] == len(matching) > 3
    assert [c["id"] for c in body["items"]] == [c["id"] for c in matching][:3]
    assert [(c["closes_at"], c["id"]) for c in matching] == sorted((c["closes_at"], c["id"]) for c in matching)
    # a status no one may browse gives nothing, as before
    assert client.get("/api/v1/campaigns?status=cancelled").get_json()["total"] == 0


@pytest.mark.postgres
def test_filtered_listing_reads_the_page_in_index_order_on_postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL plans")
    owner = UserFactory(roles=["owner"])
    _add_campaigns(owner, 30, 0)
    statement = services.browse_query({"status": "live", "category": "energy_efficiency", "sort": "closing"})
    compiled = statement.limit(20).compile(db.engine, compile_kwargs={"literal_binds": True})
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(row[0] for row in db.session.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_campaigns_status_category_closes_at" in plan, plan
    assert "Sort" not in plan and "users" not in plan, plan
