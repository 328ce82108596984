"""KIIS downloads: every version with its hash, and a tampered document is never served."""

import hashlib
import logging

import pytest
from sqlalchemy import select, text

from app.campaigns import services as campaigns
from app.core.audit import AuditEntry
from app.extensions import db
from tests.factories import NOW


@pytest.fixture
def regulator(api_token, people):
    return api_token("regulator@example.org")


def test_every_version_is_listed_with_its_hash_and_links(client, regulator, people):
    campaign = people["campaign"]
    second = campaigns.freeze_kiis(campaign, now=NOW, fee_bps=300)
    db.session.commit()
    body = client.get(f"/api/v1/disclosures/campaigns/{campaign.id}/kiis", headers=regulator).get_json()
    assert [v["version"] for v in body["items"]] == [1, 2]
    latest = body["items"][1]
    assert latest["sha256"] == second.pdf_sha256 == latest["pdf_sha256"]
    assert latest["json_sha256"] == second.json_sha256
    assert latest["created_at"] == NOW.isoformat()
    assert latest["pdf_url"].endswith(f"/api/v1/disclosures/campaigns/{campaign.id}/kiis/2.pdf")
    assert latest["json_url"].endswith(f"/api/v1/disclosures/campaigns/{campaign.id}/kiis/2.json")


def test_a_campaign_without_a_kiis_lists_none_and_a_missing_one_is_404(client, regulator, people):
    from tests.factories import CampaignFactory

    draft = CampaignFactory(status="draft", risk_class=None)
    assert client.get(f"/api/v1/disclosures/campaigns/{draft.id}/kiis", headers=regulator).get_json()["items"] == []
    assert client.get("/api/v1/disclosures/campaigns/999999/kiis", headers=regulator).status_code == 404
    missing = client.get(f"/api/v1/disclosures/campaigns/{people['campaign'].id}/kiis/9.pdf", headers=regulator)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


@pytest.mark.parametrize(("fmt", "mimetype"), [("pdf", "application/pdf"), ("json", "application/json")])
def test_the_document_served_matches_its_recorded_hash(client, regulator, people, fmt, mimetype):
    campaign = people["campaign"]
    response = client.get(f"/api/v1/disclosures/campaigns/{campaign.id}/kiis/1.{fmt}", headers=regulator)
    assert response.status_code == 200 and response.mimetype == mimetype
    sheet = campaigns.kiis_version(campaign, 1)
    recorded = sheet.pdf_sha256 if fmt == "pdf" else sheet.json_sha256
    assert hashlib.sha256(response.data).hexdigest() == recorded == response.headers["X-Content-SHA256"]
    assert f'kiis-{campaign.id}-v1.{fmt}' in response.headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("fmt", "column"),
    [("pdf", "pdf_bytes"), ("json", "json_bytes")],
)
def test_corrupted_bytes_are_refused_and_logged(client, regulator, people, caplog, fmt, column):
    campaign = people["campaign"]
    db.session.execute(text(f"UPDATE kiis_versions SET {column} = :b WHERE campaign_id = :c"),  # noqa: S608
                       {"b": b"forged document", "c": campaign.id})
    db.session.commit()
    with caplog.at_level(logging.ERROR):
        response = client.get(f"/api/v1/disclosures/campaigns/{campaign.id}/kiis/1.{fmt}", headers=regulator)
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["title"] == "Document integrity check failed"
    assert "has not been served" in problem["detail"]
    assert b"forged" not in response.data
    assert "tampered KIIS" in caplog.text
    failure = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "disclosure.integrity_failed"))
    assert failure is not None and failure.subject_id == str(campaign.id)
    assert failure.details == {"kiis_version": 1, "format": fmt}
    downloads = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "disclosure.downloaded")).all()
    assert downloads == []


def test_rewriting_both_the_pdf_and_its_hash_column_is_still_caught(client, regulator, people):
    """The freeze entry in the hash-chained audit log still holds the original hash."""
    campaign = people["campaign"]
    forged = b"%PDF-1.4 forged"
    db.session.execute(text("UPDATE kiis_versions SET pdf_bytes = :b, pdf_sha256 = :h WHERE campaign_id = :c"),
                       {"b": forged, "h": hashlib.sha256(forged).hexdigest(), "c": campaign.id})
    db.session.commit()
    response = client.get(f"/api/v1/disclosures/campaigns/{campaign.id}/kiis/1.pdf", headers=regulator)
    assert response.status_code == 500 and forged not in response.data


def test_the_html_download_refuses_a_tampered_document_too(client, auth, people):
    campaign = people["campaign"]
    db.session.execute(text("UPDATE kiis_versions SET json_bytes = :b WHERE campaign_id = :c"),
                       {"b": b"{}", "c": campaign.id})
    db.session.commit()
    auth.login("operator@example.org")
    response = client.get(f"/disclosures/campaigns/{campaign.id}/kiis/1.json")
    assert response.status_code == 500
    assert b"{}" != response.data and "text/html" in response.content_type


def test_the_html_pages_list_versions_with_hashes(client, auth, people):
    campaign = people["campaign"]
    auth.login("regulator@example.org")
    index = client.get("/disclosures/").get_data(as_text=True)
    assert campaign.title in index
    page = client.get(f"/disclosures/campaigns/{campaign.id}").get_data(as_text=True)
    sheet = campaigns.kiis_version(campaign, 1)
    assert sheet.pdf_sha256 in page and sheet.json_sha256 in page
    pdf = client.get(f"/disclosures/campaigns/{campaign.id}/kiis/1.pdf")
    assert pdf.status_code == 200 and hashlib.sha256(pdf.data).hexdigest() == sheet.pdf_sha256
    assert client.get(f"/disclosures/campaigns/{campaign.id}/kiis/1.txt").status_code == 404
