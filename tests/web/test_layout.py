"""How the page holds up: a 375 px phone screen, light and dark colour schemes, a server
that cannot be reached (at load and mid-conversation), and the screenshots (the README's
picture is the desktop one: `make screenshots` refreshes docs/screenshot.png)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, expect

from tests.web.browser import PHONE, Tab, new_tab, refuse

pytestmark = pytest.mark.slow


@pytest.fixture
def phone(browser: Browser, site: SimpleNamespace, tmp_path: Path) -> Iterator[Tab]:
    context, tab = new_tab(browser, site.base, tmp_path, viewport=PHONE, is_mobile=True)
    tab.open()
    yield tab
    tab.check()
    context.close()


def fits(tab: Tab) -> bool:
    return bool(tab.page.evaluate("document.documentElement.scrollWidth <= innerWidth"))


def test_the_page_works_on_a_375px_screen(phone: Tab) -> None:
    page = phone.page
    contract = phone.ask("How often are the Carrow Ridge turbines inspected?")
    assert not contract["abstained"] and fits(phone)
    expect(page.locator("#question")).to_be_in_viewport()
    shot = phone.screenshot("phone-answer")
    assert shot.stat().st_size > 10_000

    phone.settled().locator(".verified .chip").first.click()
    panel = page.locator("#source-panel")
    expect(page.locator("#source-passage mark")).to_have_text(contract["citations"][0]["quote"])
    box = panel.bounding_box()
    assert box and box["width"] == PHONE["width"]  # the source covers the screen
    phone.screenshot("phone-source")
    page.get_by_role("button", name="Close the source").click()
    expect(panel).to_be_hidden()

    toggle = page.get_by_role("button", name="Documents", exact=True)
    expect(page.locator("#docs-panel")).to_be_hidden()
    toggle.click()
    expect(page.locator("#docs-panel")).to_be_visible()
    assert toggle.get_attribute("aria-expanded") == "true" and fits(phone)
    phone.screenshot("phone-documents")
    page.keyboard.press("Escape")
    expect(page.locator("#docs-panel")).to_be_hidden()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_light_and_dark_follow_the_system(
    browser: Browser, site: SimpleNamespace, tmp_path: Path, scheme: str
) -> None:
    context, tab = new_tab(browser, site.base, tmp_path, color_scheme=scheme)
    try:
        tab.open()
        tab.ask("How many hives are in the rooftop apiary?")
        red, green, blue = tab.page.evaluate(
            "getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number)"
        )
        luminance = (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255
        assert (luminance > 0.8) if scheme == "light" else (luminance < 0.2)
        tab.screenshot(f"desktop-{scheme}")
        tab.check()
    finally:
        context.close()


def test_an_unreachable_server_is_said_and_retried(tab: Tab) -> None:
    page = tab.page
    page.route("**/v1/collections", refuse)
    page.reload()
    banner = page.locator("#banner")
    expect(banner).to_contain_text("Cannot reach the cited server")
    page.unroute("**/v1/collections")
    banner.get_by_role("button", name="Retry").click()
    expect(banner).to_be_hidden()
    expect(page.locator(".doc").first).to_be_visible()

    page.route("**/v1/ask", refuse)
    page.fill("#question", "When is honey harvested?")
    page.press("#question", "Enter")
    failed = tab.settled()
    expect(failed).to_have_attribute("data-state", "error")
    expect(failed.get_by_role("alert")).to_contain_text("Cannot reach the cited server")
    page.unroute("**/v1/ask")
    failed.get_by_role("button", name="Try again").click()
    expect(page.locator(".answer").last).to_have_attribute("data-state", "verified")


def test_the_desktop_screenshot(tab: Tab) -> None:
    """The README's picture: an answer with its source open."""
    tab.ask("How long is the rye sourdough fermented?")
    contract = tab.ask("How many otters did the Tarn valley survey count?")
    tab.settled().locator(".verified .chip").first.click()
    expect(tab.page.locator("#source-passage mark")).to_be_visible()
    assert contract["citations"]
    shot = tab.screenshot("screenshot")
    assert shot.stat().st_size > 20_000
