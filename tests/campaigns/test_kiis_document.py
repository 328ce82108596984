"""The disclosure document a regulator files and an investor reads: whole, inside the page,
in every language, per jurisdiction, with the fee that is charged and news of every change."""

import hashlib
import io
from datetime import timedelta

import pdfplumber
import pytest
from sqlalchemy import select

from app.campaigns import services as campaigns
from app.campaigns.kiis import MAX_PAGES
from app.campaigns.models import Campaign, KiisTranslation
from app.demo import seed
from app.extensions import db
from app.notifications.models import OutboxMessage
from tests.factories import NOW, CampaignFactory, UserFactory

MM = 72 / 25.4
#: fpdf2's margins: 1 cm left, right and top; the footer sits in the bottom 16 mm.
MARGIN = 10 * MM

LONG_DESCRIPTION = " ".join(
    f"Paragraph {n}: the district heating substation of building {n} is replaced, its pipes insulated and "
    f"its controls tuned, which saves about {n % 9 + 3} % of the heat it used; Sõpruse pst {n}, Rīga, Vilnius."
    for n in range(1, 61)) + " " + "Unbroken" * 40
#: Within the 20,000 characters a description may have, but one short line per step: far over 6 pages.
TOO_LONG = "".join(f"Step {n}.\n" for n in range(1, 1800))


def pdf_pages(data: bytes) -> list[pdfplumber.page.Page]:
    return pdfplumber.open(io.BytesIO(data)).pages


def assert_whole_and_inside(data: bytes, description: str) -> None:
    pages = pdf_pages(data)
    assert 1 <= len(pages) <= MAX_PAGES
    outside = [(page.page_number, c["text"], round(c["x0"]), round(c["x1"]))
               for page in pages for c in page.chars
               if c["x0"] < MARGIN - 0.5 or c["x1"] > page.width - MARGIN + 0.5
               or c["top"] < MARGIN - 0.5 or c["bottom"] > page.height - 2 * MM]
    assert outside == [], f"{len(outside)} characters outside the margins, first: {outside[:5]}"
    # The running footer would split a description that crosses a page; read above it.
    text = "".join("".join(page.within_bbox((0, 0, page.width, page.height - 16 * MM)).extract_text().split())
                   for page in pages)
    assert "".join(description.split()) in text


def long_campaign(**overrides) -> Campaign:
    campaign = CampaignFactory(description=LONG_DESCRIPTION, title="Substations " + "and insulation " * 6,
                               location="Narva-Jõesuu, Ida-Viru maakond", **overrides)
    db.session.commit()
    return campaign


def test_every_demo_sheet_and_a_long_one_read_whole_inside_the_margins_in_every_language(app):
    seed(NOW)
    db.session.commit()
    long = long_campaign()
    campaigns.freeze_kiis(long, now=NOW, fee_bps=300)
    db.session.commit()
    sheets = [c for c in db.session.scalars(select(Campaign)) if c.current_kiis_version]
    assert len(sheets) >= 3
    for campaign in sheets:
        sheet = campaigns.kiis_version(campaign, campaign.current_kiis_version)
        translations = db.session.scalars(select(KiisTranslation).where(
            KiisTranslation.kiis_version_id == sheet.id)).all()
        assert {t.language for t in translations} == {"ru"}
        for data in [sheet.pdf_bytes, *(t.pdf_bytes for t in translations)]:
            assert_whole_and_inside(data, campaign.description)
    english = "".join("".join(page.extract_text().split())
                      for page in pdf_pages(campaigns.kiis_version(long, 1).pdf_bytes))
    assert "".join("European Securities and Markets Authority (ESMA)".split()) in english
    assert "InvestorRights,complaintsandredress".lower() in english.lower()


def test_the_sheet_names_the_owner_its_record_and_the_investors_rights(app):
    owner = UserFactory(name="Baltic Retrofit OÜ", roles=["owner"])
    CampaignFactory(owner=owner, title="Earlier insulation round", status="completed", raised_amount=80_000_00)
    campaign = CampaignFactory(owner=owner)
    content = campaigns.freeze_kiis(campaign, now=NOW, fee_bps=300).content
    assert content["project_owner"]["name"] == "Baltic Retrofit OÜ"
    assert content["project_owner"]["on_platform_since"] == owner.created_at.date().isoformat()
    assert content["project_owner"]["other_offers"] == [
        {"title": "Earlier insulation round", "status": "completed", "raised": 80_000_00, "currency": "EUR"}]
    assert "responsible" in content["project_owner"]["responsibility"]
    assert content["investor_rights"]["complaint_response_days"] == 30
    assert "30 days" in content["investor_rights"]["complaints"]
    assert "FIN-NET" in content["investor_rights"]["redress"]


def test_a_russian_deployment_freezes_an_investment_proposal_in_russian_without_ecsp_text(app):
    app.config["PLATFORM_JURISDICTION"] = "RU"
    try:
        campaign = CampaignFactory(currency="RUB", country="RU", location="Калининград")
        sheet = campaigns.freeze_kiis(campaign, now=NOW, fee_bps=300)
        db.session.commit()
    finally:
        app.config["PLATFORM_JURISDICTION"] = "EU"
    content = sheet.content
    assert (content["jurisdiction"], content["language"], content["languages"]) == ("RU", "ru", ["ru", "en"])
    assert content["title"] == "Инвестиционное предложение"
    assert content["disclaimer"] is None and content["offer"]["reflection_period"] is None
    text = " ".join(page.extract_text() for page in pdf_pages(sheet.pdf_bytes))
    assert "Инвестиционное предложение" in text and "Банк России" in text.replace("\n", " ")
    for ecsp in ("ESMA", "4 calendar days", "4 календарных дней", "2020/1503"):
        assert ecsp not in text
    assert_whole_and_inside(sheet.pdf_bytes, campaign.description)
    english = campaigns.kiis_translation(sheet, "en")
    assert "Investment proposal" in pdf_pages(english.pdf_bytes)[0].extract_text()


def test_a_description_that_cannot_fit_six_pages_is_refused_at_submission_and_nothing_changes(
        client, owner_headers, frozen_clock):
    from app.accounts.models import User

    owner = db.session.scalar(select(User).where(User.email == "owner@example.org"))
    draft = CampaignFactory(owner=owner, status="draft", risk_class=None,
                            description=TOO_LONG)
    response = client.post(f"/api/v1/campaigns/{draft.id}/submit", headers=owner_headers)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    message = response.get_json()["errors"]["description"][0]
    assert "at most 6 are allowed" in message and "Shorten the description" in message
    db.session.expire_all()
    assert db.session.get(Campaign, draft.id).status == "draft"
    fits = CampaignFactory(owner=owner, status="draft", risk_class=None, description=LONG_DESCRIPTION)
    assert client.post(f"/api/v1/campaigns/{fits.id}/submit", headers=owner_headers).status_code == 200


def test_an_amendment_that_would_overflow_the_sheet_is_refused_and_changes_nothing(
        client, operator_headers, frozen_clock):
    campaign = CampaignFactory()
    campaigns.freeze_kiis(campaign, now=NOW, fee_bps=300)
    db.session.commit()
    response = client.post(f"/api/v1/campaigns/{campaign.id}/amend", headers=operator_headers,
                           json={"description": TOO_LONG, "reason": "Full story"})
    assert response.status_code == 422 and "description" in response.get_json()["errors"]
    db.session.expire_all()
    again = db.session.get(Campaign, campaign.id)
    assert again.description == "The school saves 60 % of its heating bill." and again.current_kiis_version == 1


def test_an_amendment_keeps_the_disclosed_fee_and_tells_every_live_pledger_once(
        client, operator_headers, frozen_clock, app):
    from tests.disclosures.conftest import make_pledge

    campaign = CampaignFactory()
    campaigns.freeze_kiis(campaign, now=NOW, fee_bps=300)
    open_reflection = make_pledge(campaign, UserFactory(email="reflecting@example.org"), 500_00, NOW)
    open_reflection.reflection_ends_at = NOW + timedelta(days=2)
    standing = make_pledge(campaign, UserFactory(email="standing@example.org", locale="ru"), 700_00, NOW)
    make_pledge(campaign, UserFactory(email="gone@example.org"), 300_00, NOW, status="refunded")
    db.session.commit()
    app.config["PLATFORM_FEE_BPS"], before = 500, app.config["PLATFORM_FEE_BPS"]
    try:
        response = client.post(f"/api/v1/campaigns/{campaign.id}/amend", headers=operator_headers,
                               json={"closes_at": (NOW + timedelta(days=40)).isoformat(), "reason": "Permit late"})
    finally:
        app.config["PLATFORM_FEE_BPS"] = before
    assert response.status_code == 200, response.get_json()
    assert campaigns.kiis_version(campaign, 2).content["fees"]["project_owner_fee_bps"] == 300
    mail = {m.to_address: m for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "kiis_amended"))}
    assert set(mail) == {"reflecting@example.org", "standing@example.org"}
    reflecting = mail["reflecting@example.org"].body
    assert "Version 2" in reflecting and f"/campaigns/{campaign.id}/kiis/2.pdf" in reflecting
    assert "revoke your pledge of €500.00" in reflecting and "until 2026-11-27 12:00" in reflecting
    assert f"/payments/pledges/{open_reflection.id}" in reflecting
    russian = mail["standing@example.org"]
    assert "Версия 2" in russian.body and "/complaints/new" in russian.body and standing.id
    assert db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.to_address == "gone@example.org")) is None


@pytest.fixture
def regulator_headers(api_token):
    UserFactory(email="regulator@example.org", roles=["regulator"])
    return api_token("regulator@example.org")


def test_a_translation_is_served_by_language_with_its_frozen_hash_and_a_missing_one_is_404(
        client, regulator_headers):
    campaign = CampaignFactory()
    sheet = campaigns.freeze_kiis(campaign, now=NOW, fee_bps=300)
    db.session.commit()
    listed = client.get(f"/api/v1/disclosures/campaigns/{campaign.id}/kiis", headers=regulator_headers).get_json()
    assert listed.get("items"), listed
    assert listed["items"][0]["languages"] == ["en", "ru"]
    assert listed["items"][0]["translations"] == {"ru": campaigns.kiis_translation(sheet, "ru").pdf_sha256}
    base = f"/api/v1/disclosures/campaigns/{campaign.id}/kiis/1.pdf"
    russian = client.get(f"{base}?lang=ru", headers=regulator_headers)
    assert russian.status_code == 200 and russian.mimetype == "application/pdf"
    digest = hashlib.sha256(russian.data).hexdigest()
    assert digest == campaigns.kiis_translation(sheet, "ru").pdf_sha256 == russian.headers["X-Content-SHA256"]
    assert digest != sheet.pdf_sha256 and f"kiis-{campaign.id}-v1-ru.pdf" in russian.headers["Content-Disposition"]
    assert "Ключевой информационный документ" in pdf_pages(russian.data)[0].extract_text().replace("\n", " ")
    assert client.get(f"{base}?lang=en", headers=regulator_headers).data == sheet.pdf_bytes
    for lang in ("lv", "x" * 300):
        missing = client.get(f"{base}?lang={lang}", headers=regulator_headers)
        assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
        assert "en, ru" in missing.get_json()["detail"]
    public = client.get(f"/campaigns/{campaign.id}/kiis/1.pdf?lang=ru")
    assert public.status_code == 200 and public.data == russian.data
    assert client.get(f"/campaigns/{campaign.id}/kiis/1.pdf?lang=lv").status_code == 404
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'hreflang="ru"' in page and f"/campaigns/{campaign.id}/kiis/1.pdf?lang=ru" in page


def test_a_tampered_translation_is_refused(client, regulator_headers):
    campaign = CampaignFactory()
    sheet = campaigns.freeze_kiis(campaign, now=NOW, fee_bps=300)
    translation = campaigns.kiis_translation(sheet, "ru")
    translation.pdf_bytes = b"%PDF-1.4 forged"
    translation.pdf_sha256 = hashlib.sha256(translation.pdf_bytes).hexdigest()
    db.session.commit()
    response = client.get(f"/api/v1/disclosures/campaigns/{campaign.id}/kiis/1.pdf?lang=ru",
                          headers=regulator_headers)
    assert response.status_code == 500 and b"forged" not in response.data
    assert response.get_json()["title"] == "Document integrity check failed"
