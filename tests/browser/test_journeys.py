"""End-to-end journeys in a real browser against the live, demo-seeded server."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, Response, expect

from app.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEMO_INVESTOR = "investor@demo.greenround.eu"
FAVICON = "/favicon.ico"


def log_out_button(page: Page):
    return page.get_by_role("button", name=re.compile(r"^Log out"))


def register(page: Page, *, name: str, email: str, password: str) -> None:
    page.goto("/register")
    page.get_by_label("Full name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_label("I want to").select_option("investor")
    page.get_by_label("Country").select_option("EE")
    page.locator("main").get_by_role("button", name="Register").click()


def log_in(page: Page, *, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.locator("main").get_by_role("button", name="Log in").click()


def test_home_lists_demo_campaigns_without_errors(page: Page) -> None:
    console_errors: list[str] = []
    failed: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # The missing favicon has its own (expected-to-fail) test below.
        if message.type == "error" and not message.location.get("url", "").endswith(FAVICON):
            console_errors.append(f"{message.text} ({message.location.get('url')})")

    def on_request_failed(request: Request) -> None:
        failed.append(f"{request.url} {request.failure}")

    def on_response(response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            failed.append(f"{response.url} HTTP {response.status}")

    page.on("console", on_console)
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)

    page.goto("/", wait_until="load")

    expect(page).to_have_title(re.compile("GreenRound"))
    expect(page.get_by_role("heading", name="Insulating a Lasnamäe apartment block")).to_be_visible()
    expect(page.get_by_role("heading", name="Heat pumps for Puolala school in Turku")).to_be_visible()
    # app.css really applied: it moves the skip link off-screen until it has focus.
    expect(page.locator(".skip-link")).not_to_be_in_viewport()
    page.wait_for_load_state("networkidle")
    assert console_errors == []
    assert failed == []


def test_register_log_out_and_log_in_again(page: Page) -> None:
    email = "journey.investor@example.org"
    password = "a long enough password"

    register(page, name="Journey Investor", email=email, password=password)

    expect(page).to_have_url(re.compile(r"/investors/$"))  # straight to the first missing step
    expect(page.get_by_role("status")).to_contain_text("Welcome to GreenRound, Journey Investor.")
    expect(log_out_button(page)).to_have_text("Log out (Journey Investor)")

    log_out_button(page).click()

    expect(page.get_by_role("status")).to_contain_text("You are signed out.")
    expect(log_out_button(page)).to_have_count(0)
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    log_in(page, email=email, password=password)

    expect(page.get_by_role("status")).to_contain_text("You are signed in.")
    expect(log_out_button(page)).to_have_text("Log out (Journey Investor)")


def test_bad_registration_shows_the_error_and_keeps_the_input(page: Page) -> None:
    register(page, name="Short Password", email="short.password@example.org", password="short")

    expect(page).to_have_url(re.compile(r"/register$"))
    password = page.get_by_label("Password (at least 10 characters)")
    expect(page.locator("#password-error")).to_have_text("Use at least 10 characters.")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_attribute("aria-describedby", "password-error")
    expect(page.get_by_label("Full name")).to_have_value("Short Password")
    expect(page.get_by_label("E-mail")).to_have_value("short.password@example.org")
    expect(log_out_button(page)).to_have_count(0)


def test_login_form_works_with_the_keyboard_alone(page: Page) -> None:
    page.goto("/login")
    email = page.get_by_label("E-mail")
    email.focus()
    expect(email).to_be_focused()
    page.keyboard.type(DEMO_INVESTOR)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("You are signed in.")
    expect(log_out_button(page)).to_have_text("Log out (Liisa Tamm)")


def test_skip_link_is_the_first_focusable_element(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")

    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to content")
    expect(focused).to_be_in_viewport()

    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


@pytest.mark.parametrize("width", [1280, 390])
def test_home_page_screenshots(page: Page, tmp_path: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/")
    expect(page.get_by_role("heading", name="Insulating a Lasnamäe apartment block")).to_be_visible()

    target = tmp_path / f"home-{width}.png"
    page.screenshot(path=target, full_page=True)

    data = target.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000


def test_home_page_does_not_scroll_sideways_on_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto("/")
    expect(page.get_by_role("heading", name="Insulating a Lasnamäe apartment block")).to_be_visible()

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(page.locator("header a[href='/register']")).to_be_in_viewport()


def test_the_page_icon_is_served(page: Page) -> None:
    page.goto("/")
    # The icon the browser will ask for: a declared <link rel="icon">, else /favicon.ico.
    icon = page.evaluate(
        "() => document.querySelector('link[rel~=icon]')?.href ?? new URL('/favicon.ico', location.href).href"
    )
    assert page.request.get(icon).ok
