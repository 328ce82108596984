"""Public campaign pages."""

from app.extensions import db
from tests.factories import CampaignFactory


def test_listing_shows_public_campaigns_only(client):
    live = CampaignFactory(title="Solar roof in Riga")
    CampaignFactory(title="Secret draft", status="draft")
    html = client.get("/campaigns/").get_data(as_text=True)
    assert live.title in html
    assert "Secret draft" not in html


def test_listing_paginates_and_shows_an_empty_state_past_the_end(client):
    for _ in range(13):
        CampaignFactory()
    first = client.get("/campaigns/").get_data(as_text=True)
    assert first.count("<article") == 12 and "Page 1 of 2" in first
    assert client.get("/campaigns/?page=2").get_data(as_text=True).count("<article") == 1
    assert "no campaigns to show" in client.get("/campaigns/?page=9").get_data(as_text=True)
    assert client.get("/campaigns/?page=abc").status_code == 200


def test_campaign_page_shows_progress_and_terms(client):
    campaign = CampaignFactory(raised_amount=25_000_00)
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'value="25"' in html
    assert "€25,000.00" in html and "6.50 %" in html and "SDG 7" in html


def test_draft_campaign_page_is_404_for_the_public(client):
    draft = CampaignFactory(status="draft")
    db.session.commit()
    assert client.get(f"/campaigns/{draft.id}").status_code == 404
