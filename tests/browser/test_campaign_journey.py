"""The owner → operator → public campaign journey in a real browser."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from app.demo import DEMO_PASSWORD
from tests.browser.test_journeys import log_in, log_out_button

pytestmark = pytest.mark.browser


def test_owner_drafts_operator_approves_public_reads_the_kiis(page: Page) -> None:
    title = "Heat recovery for a Pärnu swimming pool"
    log_in(page, email="owner@demo.greenround.eu", password=DEMO_PASSWORD)
    page.get_by_role("link", name="My campaigns").click()
    page.get_by_role("button", name="Launch a new campaign").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Summary (one or two sentences)").fill("Heat recovery from pool ventilation and showers.")
    page.get_by_label("The story").fill("The pool saves 40 % of its heating energy; savings repay the loan.")
    page.get_by_label("Category").select_option("energy_efficiency")
    page.get_by_label("SDG 7", exact=True).check()
    page.get_by_label("SDG 13", exact=True).check()
    page.get_by_label("Country", exact=True).select_option("EE")
    page.get_by_label("Town or district").fill("Pärnu")
    page.get_by_label("Interest rate, % a year (loans)").fill("6.5")
    page.get_by_label("Term in months (loans)").fill("60")
    page.get_by_label("Repayment (loans)").select_option("annuity")
    page.get_by_label("Target amount").fill("150000")
    page.get_by_label("Maximum amount").fill("180000")
    page.get_by_label("Minimum pledge").fill("100")
    closes = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Closes (UTC)").fill(closes)
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("Draft saved")).to_be_visible()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Submitted. The platform operator will review")).to_be_visible()
    campaign_url = page.url
    log_out_button(page).click()

    page.goto(campaign_url)
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()  # not public while in review

    log_in(page, email="operator@demo.greenround.eu", password=DEMO_PASSWORD)
    page.get_by_role("link", name="Review queue").click()
    page.get_by_role("link", name=title).click()
    page.get_by_label("Risk class").select_option("B")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved; the Key Investment Information Sheet is frozen.")).to_be_visible()
    log_out_button(page).click()

    page.goto("/campaigns/?q=P%C3%A4rnu")
    page.get_by_role("link", name=title).click()
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    pdf_link = page.get_by_role("link", name="PDF (English)")
    response = page.request.get(pdf_link.get_attribute("href"))
    assert response.ok
    body = response.body()
    assert body.startswith(b"%PDF-")
    assert hashlib.sha256(body).hexdigest() == response.headers["x-content-sha256"]
