"""How the page holds up: a 375 px phone screen, light and dark colour schemes, a server
that cannot be reached (at load and mid-conversation), a layout that fills the window
exactly whatever it holds (only the conversation scrolls, never the page), and the
screenshots (the README's picture is the desktop one: `make screenshots` refreshes
docs/screenshot.png)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.web.browser import DESKTOP, PHONE, Tab, new_tab, refuse
from tests.web.corpus import WEB_QUESTIONS

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


# Where the page's parts are, in CSS pixels of the window, and how far each scroller is.
GEOMETRY = """() => {
    const box = (selector) => {
        const node = document.querySelector(selector);
        const { top, bottom } = node.getBoundingClientRect();
        return { top, bottom };
    };
    const log = document.getElementById("conversation");
    return {
        height: innerHeight,
        rootScroll: [document.documentElement.scrollTop, document.body.scrollTop, scrollY],
        rootOverflow: document.documentElement.scrollHeight - innerHeight,
        header: box(".top"),
        banner: box("#banner"),
        layout: box(".layout"),
        composer: box(".composer"),
        conversation: { scrollTop: log.scrollTop, overflow: log.scrollHeight - log.clientHeight },
    };
}"""


def geometry(tab: Tab) -> dict[str, Any]:
    return dict(tab.page.evaluate(GEOMETRY))


def fills_the_window(where: dict[str, Any], below: str = "header") -> None:
    """The layout runs from under the header (or the banner) to the window's bottom edge,
    the composer at its foot, and the page itself has nothing to scroll."""
    assert where["rootScroll"] == [0, 0, 0] and where["rootOverflow"] <= 0, where
    assert where["header"]["top"] == 0, where
    assert where["layout"]["top"] == pytest.approx(where[below]["bottom"], abs=1), where
    assert where["layout"]["bottom"] == pytest.approx(where["height"], abs=1), where
    assert where["composer"]["bottom"] == pytest.approx(where["height"], abs=1), where


def test_only_the_conversation_scrolls(tab: Tab) -> None:
    """Four answers overflow the conversation: it scrolls, the page never does (the header
    stays, nothing grey below the composer)."""
    for question in WEB_QUESTIONS:
        tab.ask(question)
        tab.page.wait_for_timeout(600)  # any smooth scroll has ended
        fills_the_window(geometry(tab))
    where = geometry(tab)
    assert where["conversation"]["overflow"] > 0 and where["conversation"]["scrollTop"] > 0
    expect(tab.settled()).to_be_in_viewport()
    tab.page.keyboard.press("PageDown")  # nor with keys from the page
    tab.page.locator("#question").focus()
    tab.page.keyboard.press("Shift+Tab")
    fills_the_window(geometry(tab))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_layout_fills_the_window_whatever_it_holds(
    browser: Browser, site: SimpleNamespace, tmp_path: Path, viewport: dict[str, int]
) -> None:
    """A collection with no documents (little to show) fills the window as a full one does,
    with the banner hidden and shown."""
    context, tab = new_tab(browser, site.base, tmp_path, viewport=viewport)
    page = tab.page
    page.request.post(site.base + "/v1/collections", data={"name": "empty shelf"})
    try:
        page.add_init_script("localStorage.setItem('cited.collection', 'empty shelf')")
        tab.open()
        expect(page.locator("#docs-status")).to_have_text("No documents yet. Add some above.")
        expect(page.locator("#welcome")).to_be_visible()
        fills_the_window(geometry(tab))

        page.route("**/v1/collections", refuse)
        page.get_by_role("button", name="New chat").click()
        page.reload()
        expect(page.locator("#banner")).to_be_visible()
        fills_the_window(geometry(tab), below="banner")
        page.unroute("**/v1/collections")
        page.get_by_role("button", name="Retry").click()
        expect(page.locator("#banner")).to_be_hidden()
        fills_the_window(geometry(tab))

        tab.ask("How many hives are in the rooftop apiary?")  # a short conversation
        fills_the_window(geometry(tab))
        tab.check()
    finally:
        page.request.delete(site.base + "/v1/collections/empty%20shelf")
        context.close()


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
