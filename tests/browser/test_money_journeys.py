"""Money journeys in a real browser: pledging and revoking, declined and 3-D Secure cards,
becoming ready to invest, and the regulator's disclosures.

The live server is shared by the whole session, so each test works on its own campaign or
its own newly registered account and compares before/after rather than absolute figures.
"""

import csv
import hashlib
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from app.demo import DEMO_PASSWORD
from tests.browser.test_journeys import log_in, log_out_button, register

pytestmark = pytest.mark.browser

DEMO_INVESTOR = "investor@demo.greenround.eu"
OPERATOR = "operator@demo.greenround.eu"
REGULATOR = "regulator@demo.greenround.eu"
LASNAMAE = "Insulating a Lasnamäe apartment block"
TURKU = "Heat pumps for Puolala school in Turku"
SAAREMAA = "Community wind turbine on Saaremaa"  # submitted in the demo: no KIIS until approved
RISK_ACK = "I have read the risk warning and understand that I may lose all the money I invest."
DEADLINE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
PLEDGE_URL = re.compile(r"/pledges/(\d+)$")


# --- helpers ---------------------------------------------------------------------------------------


def open_campaign(page: Page, title: str) -> str:
    """Open a public campaign by its title from the campaign list; return its URL."""
    page.goto("/campaigns/")
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    return page.url


def pledge_section(page: Page) -> Locator:
    return page.locator("section#pledge")


def counters(page: Page) -> tuple[str, int]:
    """The campaign page's "<raised> raised of <target> (…%) · <n> backers" line: (raised, backers)."""
    line = page.locator("article p").filter(has_text="backers").first
    expect(line).to_be_visible()
    text = " ".join(line.inner_text().split())
    match = re.search(r"^(\S+) raised of .* · (\d+) backers", text)
    assert match, text
    return match.group(1), int(match.group(2))


def submit_pledge(form_scope: Locator | Page, *, amount: str, card: str) -> None:
    form_scope.get_by_label("Amount").fill(amount)
    form_scope.get_by_label("Pay with").select_option(card)
    form_scope.get_by_role("button", name="Pledge and pay").click()


def pledge_on_campaign_page(page: Page, *, amount: str, card: str) -> bool:
    """Submit the campaign page's pledge form, ticking the risk acknowledgement if the page asks
    for it (ECSP Art. 21(7): the investor's total in the offer is above their threshold, which
    earlier journeys may have made so). Whether it asked."""
    with page.expect_navigation():
        submit_pledge(pledge_section(page), amount=amount, card=card)
    if not page.locator(".risk-warning[role=alert]").count():
        return False
    ack = page.get_by_label(RISK_ACK)
    expect(ack).not_to_be_checked()  # never pre-ticked
    ack.check()
    page.get_by_label("Pay with").select_option(card)
    with page.expect_navigation():
        page.get_by_role("button", name="Pledge and pay").click()
    return True


def pledge_id(page: Page) -> int:
    expect(page).to_have_url(PLEDGE_URL)
    match = PLEDGE_URL.search(page.url)
    assert match
    return int(match.group(1))


def status_cell(page: Page) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Status")).locator("td")


def api_token(page: Page, email: str, password: str = DEMO_PASSWORD) -> str:
    response = page.request.post("/api/v1/tokens", data={"email": email, "password": password})
    assert response.status == 201, response.text()
    return response.json()["token"]


def api_get(page: Page, path: str, token: str) -> dict:
    response = page.request.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.ok, f"{path}: HTTP {response.status} {response.text()}"
    return response.json()


def download(page: Page, trigger: Locator, tmp_path: Path) -> tuple[str, bytes]:
    """Click ``trigger``, wait for the browser's download; return (suggested filename, bytes)."""
    with page.expect_download() as info:
        trigger.click()
    dl = info.value
    assert dl.failure() is None
    target = tmp_path / dl.suggested_filename
    dl.save_as(target)
    return dl.suggested_filename, target.read_bytes()


# --- 1. pledge, pledge again, revoke the second -------------------------------------------------------


def test_investor_pledges_then_revokes_a_second_pledge_in_the_reflection_period(page: Page) -> None:
    log_in(page, email=DEMO_INVESTOR, password=DEMO_PASSWORD)
    expect(log_out_button(page)).to_have_text("Log out (Liisa Tamm)")
    campaign_url = open_campaign(page, LASNAMAE)
    raised_before, backers_before = counters(page)

    # EUR 3,000 is above the demo investor's warning threshold (EUR 2,900 = 5 % of EUR 58,000 net worth).
    section = pledge_section(page)
    expect(section.get_by_role("heading", name="Pledge")).to_be_visible()
    expect(section.get_by_label(RISK_ACK)).to_have_count(0)  # not shown before it is needed
    submit_pledge(section, amount="3000", card="pm_card_visa")

    # Wait for the answer, whichever it is: the risk warning or the confirmation page.
    warning = page.locator(".risk-warning[role=alert]")
    confirmation = page.get_by_role("heading", level=1, name=f"Your pledge to {LASNAMAE}")
    expect(warning.or_(confirmation)).to_be_visible()
    if warning.is_visible():  # tick the acknowledgement only when the page asks for it
        expect(warning).to_contain_text("risk of losing the entirety of the money invested")
        ack = page.get_by_label(RISK_ACK)
        expect(ack).not_to_be_checked()  # never pre-ticked
        expect(page.get_by_label("Amount")).to_have_value("3000")
        ack.check()
        page.get_by_label("Pay with").select_option("pm_card_visa")
        page.get_by_role("button", name="Pledge and pay").click()

    first_id = pledge_id(page)
    expect(page.get_by_role("status")).to_have_text("Thank you: your pledge of €3,000.00 is paid.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Your pledge to {LASNAMAE}")
    expect(status_cell(page)).to_have_text("Paid")
    expect(page.get_by_text(re.compile(r"You may revoke until " + DEADLINE.pattern))).to_be_visible()

    page.goto(campaign_url)
    raised_after, backers_after = counters(page)
    assert backers_after == backers_before + 1
    assert raised_after != raised_before

    # A second, small pledge brings the total in this offer above the threshold: the page asks again.
    assert pledge_on_campaign_page(page, amount="50", card="pm_card_visa")
    second_id = pledge_id(page)
    assert second_id != first_id
    expect(page.get_by_role("status")).to_have_text("Thank you: your pledge of €50.00 is paid.")
    expect(status_cell(page)).to_have_text("Paid")

    page.get_by_role("link", name="My pledges", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="My pledges")).to_be_visible()
    first_row, second_row = page.locator(f"#pledge-{first_id}"), page.locator(f"#pledge-{second_id}")
    expect(second_row).to_contain_text(LASNAMAE)
    expect(second_row).to_contain_text("€50.00")
    second_row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Revoke your pledge of €50.00")
    page.get_by_role("button", name="Yes, revoke this pledge").click()

    expect(page).to_have_url(re.compile(r"/payments/$"))
    expect(page.get_by_role("status")).to_have_text(
        re.compile(
            r"Your pledge is revoked (and €50\.00 is on its way back to your card\.|; the refund will follow shortly\.)"
        )
    )
    second_row = page.locator(f"#pledge-{second_id}")
    expect(second_row.locator(".status")).to_have_text(re.compile(r"^(Refunded|Revoked, refund pending)$"))
    expect(second_row.get_by_role("button", name="Revoke")).to_have_count(0)

    # The first pledge is untouched: paid, revocable, with its deadline four days out.
    expect(first_row.locator(".status")).to_have_text("Paid")
    expect(first_row.get_by_role("button", name="Revoke")).to_be_visible()
    deadline = first_row.locator("time")
    expect(deadline).to_have_text(re.compile(r"^until " + DEADLINE.pattern + "$"))
    ends_at = datetime.fromisoformat(deadline.get_attribute("datetime"))
    if ends_at.tzinfo is None:
        ends_at = ends_at.replace(tzinfo=UTC)
    assert abs(ends_at - (datetime.now(UTC) + timedelta(days=4))) < timedelta(minutes=5)

    # The revoked pledge no longer counts toward the round.
    page.goto(campaign_url)
    assert counters(page) == (raised_after, backers_after)


# --- 2. declined card and 3-D Secure ------------------------------------------------------------------


def wallet_available(page: Page, token: str) -> int:
    return {b["currency"]: b for b in api_get(page, "/api/v1/me/wallet", token)["balances"]}["EUR"]["available"]


def test_investor_withdraws_and_the_operator_sends_the_payment_file(page: Page) -> None:
    """The wallet page takes a withdrawal to the saved bank account; the operator puts it in a
    pain.001 file and the investor sees it sent."""
    log_in(page, email=DEMO_INVESTOR, password=DEMO_PASSWORD)
    token = api_token(page, DEMO_INVESTOR)
    before = wallet_available(page, token)
    page.get_by_role("link", name="Wallet", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Your wallet")).to_be_visible()
    withdraw = page.get_by_role("region", name="Withdraw to your bank account")
    withdraw.get_by_label("Amount").fill("25")
    withdraw.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_role("status")).to_contain_text("Withdrawal of €25.00 requested")
    expect(page.get_by_test_id("withdrawal-status").first).to_have_text("Requested")
    assert wallet_available(page, token) == before - 25_00

    withdraw.get_by_label("Amount").fill("999999")
    withdraw.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#amount-error")).to_contain_text("more than your available balance")
    assert wallet_available(page, token) == before - 25_00

    log_out_button(page).click()
    log_in(page, email="operator@demo.greenround.eu", password=DEMO_PASSWORD)
    page.get_by_role("link", name="Withdrawals", exact=True).click()
    page.get_by_role("button", name="Create the pain.001 file").click()
    expect(page.get_by_role("status")).to_contain_text("Download it and upload it to the bank")
    expect(page.get_by_text("No withdrawal is waiting.")).to_be_visible()
    log_out_button(page).click()
    log_in(page, email=DEMO_INVESTOR, password=DEMO_PASSWORD)
    page.get_by_role("link", name="Wallet", exact=True).click()
    expect(page.get_by_test_id("withdrawal-status").first).to_have_text("Sent to the bank")


def test_investor_reinvests_from_the_wallet_and_pledges_by_bank_transfer(page: Page) -> None:
    """Repayments wait in the wallet: a pledge paid from it moves no card money; a bank
    transfer shows the details and the QR code a banking app scans."""
    log_in(page, email=DEMO_INVESTOR, password=DEMO_PASSWORD)
    token = api_token(page, DEMO_INVESTOR)
    before = wallet_available(page, token)

    open_campaign(page, LASNAMAE)
    pledge_on_campaign_page(page, amount="60", card="wallet")
    pledge_id(page)
    expect(page.get_by_role("status")).to_have_text("Thank you: your pledge of €60.00 is paid.")
    expect(status_cell(page)).to_have_text("Paid")
    assert wallet_available(page, token) == before - 60_00

    open_campaign(page, LASNAMAE)
    pledge_on_campaign_page(page, amount="75", card="bank_transfer")
    transfer_id = pledge_id(page)
    expect(page.get_by_role("status")).to_have_text(
        "Your pledge of €75.00 waits for your bank transfer: the details are below.")
    expect(status_cell(page)).to_have_text("Awaiting payment")
    instructions = page.get_by_role("region", name="Pay by bank transfer")
    expect(instructions).to_contain_text("IBAN")
    reference = api_get(page, f"/api/v1/pledges/{transfer_id}", token)["payment_instructions"]["reference"]
    expect(instructions).to_contain_text(reference)
    expect(instructions.get_by_role("img", name="QR code with these payment details for your banking app")) \
        .to_be_visible()


def test_declined_card_counts_nothing_and_3ds_card_ends_paid(page: Page) -> None:
    log_in(page, email=DEMO_INVESTOR, password=DEMO_PASSWORD)
    expect(log_out_button(page)).to_be_visible()
    campaign_url = open_campaign(page, TURKU)
    before = counters(page)

    pledge_on_campaign_page(page, amount="120", card="pm_card_chargeDeclined")

    expect(page).to_have_url(re.compile(r"/campaigns/\d+/pledge$"))
    expect(page.get_by_label("Pay with")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Pay with")).to_have_attribute("aria-describedby", "payment_method-error")
    expect(page.locator("#payment_method-error")).to_have_text("Your card was declined.")
    expect(page.get_by_text("Thank you")).to_have_count(0)
    page.goto(campaign_url)
    assert counters(page) == before

    pledge_on_campaign_page(page, amount="120", card="pm_card_authenticationRequired")

    expect(page).to_have_url(re.compile(r"/pledges/\d+/authenticate$"))
    expect(page.get_by_role("heading", level=1, name="Confirm your payment")).to_be_visible()
    expect(page.get_by_text(f"confirm a payment of €120.00 to GreenRound for {TURKU}")).to_be_visible()
    page.get_by_role("button", name="Confirm the payment").click()

    pledge_id(page)
    expect(page.get_by_role("status")).to_have_text("Thank you: your pledge of €120.00 is paid.")
    expect(status_cell(page)).to_have_text("Paid")
    expect(page.get_by_role("button", name="Revoke this pledge")).to_be_visible()

    page.goto(campaign_url)
    raised, backers = counters(page)
    assert backers == before[1] + 1
    assert raised != before[0]


# --- 3. a new investor becomes ready to invest -------------------------------------------------------


def test_new_investor_becomes_ready_to_invest(page: Page) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    email, password, name = f"ready.{stamp}@example.org", "a long enough password", "Kadri Kask"
    register(page, name=name, email=email, password=password)
    expect(page.get_by_role("status")).to_contain_text(f"Welcome to GreenRound, {name}.")

    page.get_by_role("link", name="Investing").click()
    expect(page.locator(".ready-state")).to_have_attribute("data-ready", "false")
    page.get_by_role("link", name="Your investor profile").click()
    page.get_by_label("Legal name (as in your identity document)").fill(name)
    page.get_by_label("Address").fill("Pikk 2, 10123 Tallinn")
    page.get_by_label("Country of residence").select_option("EE")
    page.get_by_label("Currency of the amounts below").select_option("EUR")
    page.get_by_label("Net annual income").fill("36000")
    page.get_by_label("Liquid assets (cash, deposits, listed securities)").fill("15000")
    page.get_by_label("Annual financial commitments (rent, loan repayments, alimony)").fill("6000")
    page.get_by_role("button", name="Save profile").click()

    expect(page.get_by_role("status")).to_have_text("Your profile is saved.")
    expect(page.locator("li[data-step=profile]")).to_have_attribute("data-done", "true")
    expect(page.locator("li[data-step=identity]")).to_have_attribute("data-done", "false")
    expect(page.locator("li[data-step=identity]")).to_contain_text("waiting for the operator")
    log_out_button(page).click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")

    # The operator verifies the identity from the queue.
    log_in(page, email=OPERATOR, password=DEMO_PASSWORD)
    page.get_by_role("link", name="Identity checks").click()
    expect(page.get_by_role("heading", level=1, name="Identity verification queue")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=email)
    expect(row).to_have_count(1)
    row.get_by_label("Decision").select_option("verified")
    row.get_by_role("button", name="Record").click()
    expect(page.get_by_role("status")).to_have_text("The identity decision is recorded.")
    expect(page.get_by_role("row").filter(has_text=email)).to_have_count(0)
    # The correct answers, from the operator's view of the question bank.
    token = api_token(page, OPERATOR)
    bank = api_get(page, "/api/v1/knowledge-test", token)
    log_out_button(page).click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")

    log_in(page, email=email, password=password)
    page.get_by_role("link", name="Investing").click()
    expect(page.locator("li[data-step=identity]")).to_have_attribute("data-done", "true")
    page.get_by_role("link", name="Entry knowledge test").click()
    expect(page.get_by_role("heading", level=1, name="Entry knowledge test")).to_be_visible()
    questions = [q for q in bank["questions"] if q["active"]]
    expect(page.locator("fieldset")).to_have_count(len(questions))
    for question in questions:
        correct = next(o for o in question["options"] if o["id"] == question["correct_option_id"])
        fieldset = page.locator("fieldset").filter(has=page.locator(f'input[name="q-{question["id"]}"]'))
        expect(fieldset.locator("legend")).to_contain_text(question["text"])
        fieldset.get_by_label(correct["text"], exact=True).check()
    page.get_by_role("button", name="Submit answers").click()

    expect(page.get_by_role("status")).to_have_text("You passed the knowledge test.")
    expect(page.locator("li[data-step=knowledge_test]")).to_have_attribute("data-done", "true")
    expect(page.locator(".ready-state")).to_have_attribute("data-ready", "false")

    page.get_by_role("link", name="Simulation of your ability to bear loss").click()
    # 10 % of 36,000 + 15,000 − 6,000 = EUR 4,500.
    expect(page.locator("[data-loss-capacity]")).to_have_text("€4,500.00")
    ack = page.get_by_label("I have read the simulation and understand that I may lose the money I invest.")
    expect(ack).not_to_be_checked()
    ack.check()
    page.get_by_role("button", name="Acknowledge").click()

    expect(page.get_by_role("status")).to_have_text("Thank you: your acknowledgement is recorded.")
    ready = page.locator(".ready-state")
    expect(ready).to_have_attribute("data-ready", "true")
    expect(ready).to_contain_text("Ready to invest")
    expect(page.locator("ol.checklist li[data-done=false]")).to_have_count(0)

    # And the campaign page now offers the pledge form instead of the checklist.
    open_campaign(page, LASNAMAE)
    expect(pledge_section(page).get_by_role("button", name="Pledge and pay")).to_be_visible()


# --- 4. the regulator's disclosures --------------------------------------------------------------------


def _approve_saaremaa(page: Page) -> None:
    """Freeze a KIIS: the operator approves the demo's submitted campaign."""
    log_in(page, email=OPERATOR, password=DEMO_PASSWORD)
    page.get_by_role("link", name="Review queue").click()
    page.get_by_role("link", name=SAAREMAA).click()
    page.get_by_label("Risk class").select_option("B")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved; the Key Investment Information Sheet is frozen.")).to_be_visible()
    log_out_button(page).click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")


def test_regulator_downloads_disclosures_and_sees_them_in_the_audit_log(page: Page, tmp_path: Path) -> None:
    _approve_saaremaa(page)
    regulator_id = api_get(page, "/api/v1/me", api_token(page, REGULATOR))["id"]
    year = datetime.now(UTC).year

    log_in(page, email=REGULATOR, password=DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Disclosures").click()
    expect(page.get_by_role("heading", level=1, name="Disclosures")).to_be_visible()

    # KIIS: the PDF's bytes hash to the SHA-256 the page shows.
    page.get_by_role("link", name=SAAREMAA).click()
    expect(page.get_by_role("heading", level=1, name=f"KIIS of {SAAREMAA}")).to_be_visible()
    campaign_id = re.search(r"/disclosures/campaigns/(\d+)$", page.url).group(1)
    version_row = page.get_by_role("row").filter(has=page.get_by_role("cell", name="1", exact=True))
    pdf_code = version_row.locator("code").first
    expect(pdf_code).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    shown_sha = pdf_code.inner_text()
    filename, body = download(page, version_row.get_by_role("link", name="PDF", exact=True), tmp_path)
    assert filename.endswith(".pdf")
    assert body.startswith(b"%PDF-")
    assert hashlib.sha256(body).hexdigest() == shown_sha

    # The periodic report, on screen and as CSV.
    page.get_by_role("link", name="Disclosures", exact=True).first.click()
    page.get_by_role("link", name=f"Report {year}", exact=True).click()
    expect(page.get_by_role("heading", level=1, name=f"Periodic report {year}")).to_be_visible()
    filename, body = download(page, page.get_by_role("link", name="Download as CSV"), tmp_path)
    assert filename == f"greenround-report-{year}.csv"
    report_rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert report_rows[0] == ["period", "metric", "key", "value"]
    assert len(report_rows) > 1

    # The pledge ledger export for the default range (this calendar year so far).
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Disclosures").click()
    expect(page.get_by_label("From (UTC day, inclusive)")).to_have_value(f"{year}-01-01")
    filename, body = download(page, page.get_by_role("button", name="Download CSV"), tmp_path)
    assert filename.startswith("pledges-") and filename.endswith(".csv")
    ledger = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert ledger[0] == [
        "id",
        "created_at",
        "paid_at",
        "campaign_id",
        "investor_id",
        "fund_id",
        "amount",
        "currency",
        "status",
        "kiis_version",
    ]

    # The audit log shows the regulator's own downloads.
    page.get_by_role("link", name="Read the audit log").click()
    expect(page.get_by_role("heading", level=1, name="Audit log")).to_be_visible()
    mine = page.locator("tbody tr").filter(has=page.locator("code", has_text=re.compile(r"^disclosure\.downloaded$")))
    mine = mine.filter(has=page.locator("td:nth-child(3)", has_text=re.compile(rf"^{regulator_id}$")))
    for route in (
        f"/disclosures/campaigns/{campaign_id}/kiis/1.pdf",
        f"/disclosures/reports/{year}",
        "/disclosures/exports/pledges.csv",
    ):
        expect(mine.filter(has_text=route).first).to_be_visible()
    kiis_entry = mine.filter(has_text=f"/disclosures/campaigns/{campaign_id}/kiis/1.pdf").first
    expect(kiis_entry).to_contain_text(shown_sha)


def test_an_investor_may_not_open_the_disclosures(page: Page) -> None:
    log_in(page, email=DEMO_INVESTOR, password=DEMO_PASSWORD)
    expect(log_out_button(page)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Disclosures")).to_have_count(0)

    response = page.goto("/disclosures/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_contain_text("You may not see this page")
    response = page.goto("/disclosures/audit-log")
    assert response is not None and response.status == 403
