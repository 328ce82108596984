"""The streamed pledge-ledger export and the audit-log downloads."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from app.core.audit import AuditEntry
from app.disclosures import exports
from app.extensions import db
from app.payments.models import Pledge
from tests.disclosures.conftest import make_pledge
from tests.factories import UserFactory

EXPORT = "/api/v1/disclosures/exports/pledges.csv"


@pytest.fixture
def regulator(api_token, people):
    return api_token("regulator@example.org")


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_export_streams_the_pledges_of_the_range_in_time_order(client, regulator, people):
    campaign, investor = people["campaign"], people["investor"]
    make_pledge(campaign, investor, 300_00, datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    make_pledge(campaign, investor, 100_00, datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    make_pledge(campaign, investor, 200_00, datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC), status="pending_payment",
                paid=False)
    make_pledge(campaign, investor, 999_00, datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC))  # before
    make_pledge(campaign, investor, 999_00, datetime(2026, 3, 2, 0, 0, tzinfo=UTC))  # after
    db.session.commit()

    response = client.get(f"{EXPORT}?from=2026-01-01&to=2026-03-01", headers=regulator)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert 'filename="pledges-2026-01-01-2026-03-01.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == ",".join(exports.PLEDGE_COLUMNS)
    rows = _rows(response)
    assert [r["amount"] for r in rows] == ["10000", "20000", "30000"]
    first = rows[0]
    assert first["created_at"] == "2026-01-01T00:00:00Z" and first["paid_at"] == "2026-01-01T00:00:00Z"
    assert first["currency"] == "EUR" and first["status"] == "paid" and first["fund_id"] == ""
    assert first["campaign_id"] == str(campaign.id) and first["investor_id"] == str(investor.id)
    assert rows[1]["paid_at"] == "" and rows[1]["status"] == "pending_payment"


def test_an_empty_range_is_just_the_header(client, regulator):
    response = client.get(f"{EXPORT}?from=2020-01-01&to=2020-01-31", headers=regulator)
    assert response.get_data(as_text=True) == ",".join(exports.PLEDGE_COLUMNS) + "\n"


def test_a_large_export_arrives_in_many_chunks_and_complete(client, regulator, people):
    campaign, investor = people["campaign"], people["investor"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    db.session.execute(insert(Pledge), [
        {"campaign_id": campaign.id, "investor_id": investor.id, "amount": 50_00 + i, "currency": "EUR",
         "status": "paid", "payment_method": "pm_card_visa", "created_at": start + timedelta(seconds=i),
         "paid_at": start + timedelta(seconds=i)}
        for i in range(12_000)
    ])
    db.session.commit()
    response = client.get(f"{EXPORT}?from=2026-01-01&to=2026-12-31", headers=regulator, buffered=False)
    chunks = list(response.response)
    assert len(chunks) > 5 and all(len(c) <= 2 * exports.CHUNK_BYTES for c in chunks)
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) == 12_000
    assert rows[-1]["amount"] == str(50_00 + 11_999)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("", "from", "Required"),
        ("?from=2026-01-01", "to", "Required"),
        ("?from=2026-13-01&to=2026-12-31", "from", "YYYY-MM-DD"),
        ("?from=26-01-01&to=2026-12-31", "from", "YYYY-MM-DD"),
        ("?from=2026-01-01&to=20261231", "to", "YYYY-MM-DD"),
        ("?from=2026-01-01T00:00&to=2026-12-31", "from", "YYYY-MM-DD"),
        ("?from=2026-02-01&to=2026-01-31", "to", "on or after"),
        ("?from=2020-01-01&to=2026-12-31", "to", "at most"),
    ],
)
def test_bad_dates_are_a_422_naming_the_field(client, regulator, query, field, message):
    response = client.get(EXPORT + query, headers=regulator)
    assert response.status_code == 422
    problem = response.get_json()
    assert field in problem["errors"] and message in " ".join(problem["errors"][field])
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "disclosure.downloaded")) is None


def test_the_html_export_shows_bad_dates_on_the_form(client, auth, people):
    auth.login("regulator@example.org")
    response = client.get("/disclosures/exports/pledges.csv?from=2026-02-01&to=2026-01-01")
    assert response.status_code == 422
    assert "Must be on or after from." in response.get_data(as_text=True)


def test_the_html_export_downloads(client, auth, people):
    make_pledge(people["campaign"], people["investor"], 123_45, datetime(2026, 5, 5, tzinfo=UTC))
    db.session.commit()
    auth.login("operator@example.org")
    response = client.get("/disclosures/exports/pledges.csv?from=2026-05-05&to=2026-05-05")
    assert response.status_code == 200 and "12345" in response.get_data(as_text=True)


def test_the_audit_log_is_paginated_newest_first(client, regulator, people):
    body = client.get("/api/v1/disclosures/audit-log?per_page=2", headers=regulator).get_json()
    assert body["page"] == 1 and body["per_page"] == 2 and body["total"] >= 3
    first, second = body["items"]
    assert first["seq"] == second["seq"] + 1
    assert first["prev_hash"] == second["entry_hash"]
    # Reading the audit log is itself recorded, and shows up at its head.
    assert first["action"] == "disclosure.downloaded" and first["details"]["route"] == "/api/v1/disclosures/audit-log"
    assert set(first) >= {"id", "seq", "created_at", "actor_id", "action", "subject_type", "subject_id",
                          "ip_address", "details", "prev_hash", "entry_hash"}


def test_the_audit_log_filters_by_date_and_validates(client, regulator, people):
    body = client.get("/api/v1/disclosures/audit-log?from=2000-01-01&to=2000-12-31", headers=regulator).get_json()
    assert body["items"] == [] and body["total"] == 0
    assert client.get("/api/v1/disclosures/audit-log?from=yesterday", headers=regulator).status_code == 422
    assert client.get("/api/v1/disclosures/audit-log?per_page=1000", headers=regulator).status_code == 422


def test_the_audit_log_as_csv_in_chain_order(client, regulator, people):
    response = client.get("/api/v1/disclosures/audit-log?format=csv", headers=regulator)
    assert response.mimetype == "text/csv"
    rows = _rows(response)
    first = int(rows[0]["seq"])
    assert [int(r["seq"]) for r in rows] == list(range(first, first + len(rows)))
    assert all(rows[i + 1]["prev_hash"] == rows[i]["entry_hash"] for i in range(len(rows) - 1))


def test_the_audit_log_page(client, auth, people):
    auth.login("regulator@example.org")
    html = client.get("/disclosures/audit-log").get_data(as_text=True)
    assert "disclosure.downloaded" in html and "campaign.kiis_frozen" in html
    assert client.get("/disclosures/audit-log?from=2000-01-01&to=2000-01-02").status_code == 200
    assert client.get("/disclosures/audit-log?from=nope").status_code == 422


@pytest.mark.parametrize(
    ("route", "subject"),
    [
        ("/api/v1/disclosures/campaigns/{cid}/kiis", ("campaigns", "{cid}")),
        ("/api/v1/disclosures/campaigns/{cid}/kiis/1.pdf", ("campaigns", "{cid}")),
        ("/api/v1/disclosures/reports/2026?format=csv", ("report", "2026")),
        ("/api/v1/disclosures/exports/pledges.csv?from=2026-01-01&to=2026-01-31", ("export", "pledges")),
        ("/api/v1/disclosures/audit-log?page=1", ("audit_log", None)),
        ("/disclosures/campaigns/{cid}/kiis/1.json", ("campaigns", "{cid}")),
        ("/disclosures/reports/2026", ("report", "2026")),
        ("/disclosures/exports/pledges.csv?from=2026-01-01&to=2026-01-31", ("export", "pledges")),
    ],
)
def test_every_download_is_audited_with_who_what_when_and_where(client, api_token, auth, people, frozen_clock,
                                                                 route, subject):
    cid = people["campaign"].id
    url = route.format(cid=cid)
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    if url.startswith("/api/"):
        response = client.get(url, headers=api_token("regulator@example.org"))
    else:
        auth.login("regulator@example.org")
        response = client.get(url)
    assert response.status_code == 200
    response.get_data()
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "disclosure.downloaded")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry is not None
    assert entry.actor_id == people["regulator"].id
    assert entry.ip_address == "198.51.100.7"
    assert entry.created_at == frozen_clock
    path, _, query = url.partition("?")
    assert entry.details["route"] == path
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        assert entry.details["params"][key] == value
    subject_type, subject_id = subject
    assert entry.subject_type == subject_type
    assert entry.subject_id == (subject_id.format(cid=cid) if subject_id else None)
    assert entry.seq is not None and entry.entry_hash is not None


def test_downloads_by_two_people_are_told_apart(client, api_token, people, frozen_clock):
    UserFactory(email="regulator2@example.org", roles=["regulator"])
    for email in ("regulator@example.org", "regulator2@example.org"):
        client.get("/api/v1/disclosures/reports/2026", headers=api_token(email))
    actors = db.session.scalars(select(AuditEntry.actor_id).where(AuditEntry.action == "disclosure.downloaded")
                                .order_by(AuditEntry.seq)).all()
    assert len(set(actors)) == 2
