"""The owner → operator → public journey through the HTML pages, and what they refuse."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.campaigns.models import Campaign, CampaignDocument
from app.extensions import db
from tests.conftest import csrf_from, post_form
from tests.factories import NOW, CampaignFactory, UserFactory

pytestmark = pytest.mark.usefixtures("frozen_clock")

FORM = {
    "title": "Solar roof on the Riga market",
    "summary": "A 900 kWp rooftop solar plant on the historic pavilions.",
    "description": "The market buys the power; the savings repay the loan over seven years.",
    "category": "renewable_energy",
    "sdgs": ["7", "11"],
    "country": "LV",
    "location": "Riga",
    "currency": "EUR",
    "instrument_type": "loan",
    "interest_rate": "7.00",
    "term_months": "84",
    "repayment": "annuity",
    "target_amount": "750000",
    "max_amount": "900000",
    "min_pledge": "50",
    "opens_at": "",
    "closes_at": (NOW + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M"),
    "co2_tonnes_per_year": "420",
    "energy_mwh_per_year": "810",
}


@pytest.fixture
def owner(auth):
    user = UserFactory(email="owner@example.org", roles=["owner"])
    auth.login("owner@example.org")
    return user


def test_owner_creates_edits_and_submits_a_draft(client, owner):
    response = post_form(client, "/campaigns/new", FORM)
    assert response.status_code == 302
    campaign = db.session.scalar(select(Campaign))
    assert campaign.target_amount == 750_000_00 and campaign.interest_rate_bps == 700 and campaign.sdgs == [7, 11]
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Preview" in page and "Submit for review" in page
    edit = client.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert 'value="750000.00"' in edit
    assert post_form(client, f"/campaigns/{campaign.id}/edit", {**FORM, "title": "Solar roof, Riga market"}
                     ).status_code == 302
    assert campaign.title == "Solar roof, Riga market"
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    client.post(f"/campaigns/{campaign.id}/submit", data={"csrf_token": csrf_from(html)})
    assert campaign.status == "submitted"
    assert "In review" in client.get("/campaigns/mine").get_data(as_text=True)
    # a submitted campaign cannot be edited any more
    response = client.get(f"/campaigns/{campaign.id}/edit")
    assert response.status_code == 302
    assert "Only drafts can be edited" in client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"target_amount": "950000"}, "max_amount", "at least the target"),
        ({"min_pledge": "800000"}, "min_pledge", "cannot exceed the target"),
        ({"opens_at": (NOW + timedelta(days=45)).strftime("%Y-%m-%dT%H:%M")}, "closes_at", "close after it opens"),
        ({"opens_at": (NOW - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M")}, "closes_at", "1 to 90 days"),
        ({"sdgs": []}, "sdgs", "between 1 and 17"),
        ({"sdgs": ["18"]}, "sdgs", "Not a valid choice"),
        ({"country": "XX"}, "country", "Not a valid choice"),
        ({"currency": "USD"}, "currency", "Not a valid choice"),
        ({"interest_rate": "31"}, "interest_rate", "between 0 and 30"),
        ({"interest_rate": "6.125"}, "interest_rate", "two decimals"),
        ({"term_months": "241"}, "term_months", "1 to 240"),
        ({"term_months": ""}, "term_months", "Required for a loan"),
        ({"instrument_type": "donation"}, "interest_rate", "Donation campaigns have no interest"),
        ({"target_amount": "0"}, "target_amount", "positive"),
        ({"target_amount": "-100"}, "target_amount", "positive"),
        ({"target_amount": "12.345"}, "target_amount", "at most 2 decimals"),
        ({"target_amount": "a lot"}, "target_amount", "Not a valid decimal"),
        ({"closes_at": ""}, "closes_at", "Missing data"),
        ({"title": ""}, "title", "required"),
        ({"owner_legal_form": "company", "owner_legal_name": "Rīgas Saules Enerģija SIA",
          "owner_registration_country": "EE", "owner_registration_number": "12345679"},
         "owner_registration_number", "Not a valid registrikood"),
        ({"owner_registration_number": "12345678"}, "owner_legal_form", "Missing data"),
    ],
)
def test_bad_form_input_rerenders_with_the_message_and_saves_nothing(client, owner, change, field, message):
    response = post_form(client, "/campaigns/new", {**FORM, **change})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html, html[html.find("field-error") - 300:html.find("field-error") + 300]
    assert message.lower() in html.lower()
    assert 'value="Solar roof on the Riga market"' in html or field == "title"
    assert db.session.scalar(select(Campaign.id)) is None


def test_the_raiser_entity_is_saved_from_the_form_and_shown_again(client, owner):
    entity = {"owner_legal_form": "company", "owner_legal_name": "Rīgas Saules Enerģija SIA",
              "owner_registration_country": "LV", "owner_registration_number": "4000 3123 453"}
    assert post_form(client, "/campaigns/new", {**FORM, **entity}).status_code == 302
    campaign = db.session.scalar(select(Campaign))
    assert (campaign.owner_legal_form, campaign.owner_registration_country, campaign.owner_registration_number) == (
        "company", "LV", "40003123453")
    edit = client.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert 'value="40003123453"' in edit and '<option selected value="LV">' in edit


def test_another_owner_cannot_see_or_edit_a_draft(client, auth):
    draft = CampaignFactory(status="draft")
    UserFactory(email="other@example.org", roles=["owner"])
    auth.login("other@example.org")
    assert client.get(f"/campaigns/{draft.id}").status_code == 404
    assert client.get(f"/campaigns/{draft.id}/edit").status_code == 404
    html = client.get("/campaigns/mine").get_data(as_text=True)
    assert client.post(f"/campaigns/{draft.id}/submit", data={"csrf_token": csrf_from(html)}).status_code == 404
    assert draft.status == "draft"


def test_investor_cannot_reach_owner_or_operator_pages(client, auth):
    submitted = CampaignFactory(status="submitted")
    UserFactory(email="inv@example.org", roles=["investor"])
    auth.login("inv@example.org")
    forbidden = client.get("/campaigns/new")
    assert forbidden.status_code == 403 and "You may not see this page" in forbidden.get_data(as_text=True)
    assert client.get("/campaigns/review").status_code == 403
    html = client.get("/").get_data(as_text=True)
    response = client.post(f"/campaigns/{submitted.id}/approve", data={"csrf_token": csrf_from(html),
                                                                       "risk_class": "A"})
    assert response.status_code == 403
    assert submitted.status == "submitted"


def test_an_untouched_approve_rates_nothing_and_approves_nothing(client, auth):
    submitted = CampaignFactory(status="submitted", opens_at=None, submitted_at=NOW)
    UserFactory(email="op@example.org", roles=["operator"])
    auth.login("op@example.org")
    page = f"/campaigns/{submitted.id}"
    select = re.search(r'<select id="risk_class".*?</select>', client.get(page).get_data(as_text=True)).group()
    assert select.startswith('<select id="risk_class" name="risk_class" required><option value="">Choose')
    assert "selected" not in select
    response = post_form(client, f"{page}/approve", {"risk_class": "", "opens_at": ""}, page=page,
                         follow_redirects=True)
    assert "Choose the risk class (A to E) before approving." in response.get_data(as_text=True)
    assert submitted.status == "submitted" and submitted.current_kiis_version is None


def test_operator_reviews_from_the_queue(client, auth):
    submitted = CampaignFactory(status="submitted", title="Community wind on Saaremaa", opens_at=None,
                                submitted_at=NOW)
    rejected = CampaignFactory(status="submitted", title="Biogas without a permit", submitted_at=NOW)
    UserFactory(email="op@example.org", roles=["operator"])
    auth.login("op@example.org")
    queue = client.get("/campaigns/review").get_data(as_text=True)
    assert "Community wind on Saaremaa" in queue and "Biogas without a permit" in queue
    page = f"/campaigns/{submitted.id}"
    assert post_form(client, f"{page}/approve", {"risk_class": "B", "opens_at": ""}, page=page).status_code == 302
    assert submitted.status == "live" and submitted.current_kiis_version == 1
    assert "Version 1" in client.get(page).get_data(as_text=True)
    other = f"/campaigns/{rejected.id}"
    post_form(client, f"{other}/reject", {"reason": "Add the environmental permit."}, page=other)
    assert rejected.status == "draft" and rejected.rejection_reason == "Add the environmental permit."
    # an illegal move is a flash message, not a silent no-op
    html = client.get(page).get_data(as_text=True)
    client.post(f"{page}/reject", data={"csrf_token": csrf_from(html), "reason": "Too late for that"})
    assert "cannot reject" in client.get(page).get_data(as_text=True)
    assert submitted.status == "live"
    post_form(client, f"{page}/cancel", {"reason": "Owner withdrew"}, page=page)
    assert submitted.status == "cancelled"
    assert "Nothing is waiting for review." in client.get("/campaigns/review").get_data(as_text=True)


def test_owner_sees_the_rejection_reason(client, owner):
    CampaignFactory(owner=owner, status="draft", title="Biogas plant", rejection_reason="Attach the audit.")
    assert "Attach the audit." in client.get("/campaigns/mine").get_data(as_text=True)


def _one_page_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Energy audit 2026")
    return bytes(pdf.output())


MINIMAL_PDF = _one_page_pdf()


def _upload(client, campaign, title, data, filename="audit.pdf"):
    from io import BytesIO

    page = f"/campaigns/{campaign.id}"
    html = client.get(page).get_data(as_text=True)
    return client.post(f"{page}/documents", data={"csrf_token": csrf_from(html), "title": title,
                                                  "file": (BytesIO(data), filename)},
                       content_type="multipart/form-data")


def test_documents_are_checked_stored_privately_and_served_with_a_permission_check(app, client, owner, auth,
                                                                                    tmp_path):
    app.config["DOCUMENTS_DIR"] = str(tmp_path)
    draft = CampaignFactory(owner=owner, status="draft")
    _upload(client, draft, "Energy audit 2026", MINIMAL_PDF)
    document = db.session.scalar(select(CampaignDocument))
    assert document.title == "Energy audit 2026" and document.size_bytes == len(MINIMAL_PDF)
    assert (tmp_path / document.storage_name).read_bytes() == MINIMAL_PDF
    assert "audit" not in document.storage_name
    url = f"/campaigns/{draft.id}/documents/{document.id}"
    assert client.get(url).data == MINIMAL_PDF

    _upload(client, draft, "Not a PDF", b"MZ\x90\x00 an executable", "virus.pdf")
    assert "not a PDF document" in client.get(f"/campaigns/{draft.id}").get_data(as_text=True)
    from app.campaigns.services import add_document
    from app.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as too_big:
        add_document(draft, owner, title="Huge", filename="huge.pdf", storage=tmp_path, now=NOW,
                     data=b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024) + b"\n%%EOF\n")
    assert too_big.value.errors["file"] == ["The file is larger than 10 MB."]
    assert len(db.session.scalars(select(CampaignDocument)).all()) == 1
    app.config["DOCUMENTS_DIR"] = None

    auth.logout()
    assert client.get(url).status_code == 404  # a draft's documents are not public
    UserFactory(email="op@example.org", roles=["operator"])
    auth.login("op@example.org")
    app.config["DOCUMENTS_DIR"] = str(tmp_path)
    assert client.get(url).status_code == 200
    app.config["DOCUMENTS_DIR"] = None


def test_owner_posts_updates_shown_on_the_public_page(client, owner):
    live = CampaignFactory(owner=owner)
    page = f"/campaigns/{live.id}"
    post_form(client, f"{page}/updates", {"title": "Drilling started", "body": "The boreholes are 200 m deep."},
              page=page)
    client.get("/")  # drop the flash
    assert "Drilling started" in client.get(page).get_data(as_text=True)
    post_form(client, f"{page}/updates", {"title": "x", "body": "short"}, page=page)
    assert "between 3 and 140" in client.get(page).get_data(as_text=True).replace("Length must be", "")


def test_browse_filters_and_sorts(client):
    CampaignFactory(title="Solar roof in Riga", country="LV", raised_amount=90_000_00)
    CampaignFactory(title="Heat pumps in Turku", country="FI", category="renewable_energy",
                    closes_at=NOW + timedelta(days=3))
    html = client.get("/campaigns/?country=LV").get_data(as_text=True)
    assert "Solar roof in Riga" in html and "Heat pumps in Turku" not in html
    closing = client.get("/campaigns/?sort=closing").get_data(as_text=True)
    assert closing.index("Heat pumps in Turku") < closing.index("Solar roof in Riga")
    funded = client.get("/campaigns/?sort=funded").get_data(as_text=True)
    assert funded.index("Solar roof in Riga") < funded.index("Heat pumps in Turku")
    assert "Heat pumps in Turku" in client.get("/campaigns/?q=turku").get_data(as_text=True)
    bad = client.get("/campaigns/?sdg=99")
    assert bad.status_code == 200 and "were not understood" in bad.get_data(as_text=True)


def _count_queries(app, fn) -> int:
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engines[None].engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_listing_and_campaign_pages_use_a_constant_number_of_queries(app, client):
    owner = UserFactory(roles=["owner"])
    campaigns = [CampaignFactory(owner=owner) for _ in range(10)]
    small_list = _count_queries(app, lambda: client.get("/campaigns/?per_page=12"))
    small_home = _count_queries(app, lambda: client.get("/"))
    small_page = _count_queries(app, lambda: client.get(f"/campaigns/{campaigns[0].id}"))
    for _ in range(990):
        CampaignFactory(owner=owner)
    assert _count_queries(app, lambda: client.get("/campaigns/")) == small_list
    assert _count_queries(app, lambda: client.get("/")) == small_home
    assert _count_queries(app, lambda: client.get(f"/campaigns/{campaigns[0].id}")) == small_page
    assert small_list <= 6


def test_a_live_campaign_page_offers_the_next_step_to_each_visitor(app, client, auth):
    live = CampaignFactory()
    anonymous = client.get(f"/campaigns/{live.id}").get_data(as_text=True)
    assert "Log in to invest" in anonymous and f"next=/payments/campaigns/{live.id}/pledge" in anonymous.replace(
        "%2F", "/")
    UserFactory(email="inv@example.org", roles=["investor"])
    auth.login("inv@example.org")
    page = client.get(f"/campaigns/{live.id}").get_data(as_text=True)
    assert f'href="/payments/campaigns/{live.id}/pledge" role="button">Invest<' in page
    assert f"/complaints/new?campaign_id={live.id}" in page
    owner_view = app.test_client()
    from tests.conftest import post_form

    post_form(owner_view, "/login", {"email": live.owner.email, "password": "correct horse battery"})
    assert "owners do not invest in their own offers" in owner_view.get(f"/campaigns/{live.id}").get_data(as_text=True)
