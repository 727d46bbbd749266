"""Document text and answers are inserted as text, never as HTML: a document carrying
<script>, <img onerror> and an event handler attribute shows them as characters and runs
nothing. The page is served with a strict Content-Security-Policy that the browser
enforces (Trusted Types: an innerHTML assignment throws)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.web.browser import Tab
from tests.web.corpus import PAYLOAD

pytestmark = pytest.mark.slow

WEB = Path(__file__).parents[2] / "web"


def test_a_document_with_markup_and_script_renders_as_text(tab: Tab) -> None:
    page = tab.page
    contract = tab.ask("When does the staging server restart?")
    assert f"<script>{PAYLOAD}</script>" in contract["citations"][0]["quote"]
    answer = tab.settled().locator(".verified")
    assert f"<script>{PAYLOAD}</script>" in (answer.text_content() or "")
    answer.locator(".chip").first.click()
    passage = page.locator("#source-passage")
    page.locator("#source-passage mark").wait_for()
    assert f'<img src=x onerror="{PAYLOAD}">' in (passage.text_content() or "")
    listed = page.locator(".doc-title", has_text="Release notes")
    assert "<img src=x onerror=" in (listed.text_content() or "")
    page.locator(".doc-title", has_text="Release notes").hover()
    for where in ("#conversation", "#source-panel", "#doc-list"):
        assert page.locator(f"{where} script, {where} img, {where} b").count() == 0, where
    assert page.evaluate("window.__pwned") is None
    assert page.title() == "cited"


def test_the_page_has_a_strict_content_security_policy(site: SimpleNamespace, tab: Tab) -> None:
    headers = httpx.get(site.base + "/").headers
    policy = {
        part.split()[0]: part.split()[1:] for part in headers["content-security-policy"].split("; ")
    }
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["require-trusted-types-for"] == ["'script'"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    # The browser enforces it: HTML from a string is refused, and so is an inline script.
    refused = tab.page.evaluate(
        """() => {
            try { document.body.insertAdjacentHTML("beforeend", "<b>x</b>"); return false; }
            catch (error) { return error instanceof TypeError; }
        }"""
    )
    assert refused
    with pytest.raises(PlaywrightError, match="TrustedScript"):
        tab.page.add_script_tag(content="window.__pwned = true")
    assert tab.page.evaluate("window.__pwned") is None
    # The browser reported the refusal (so `tab.check()` sees violations when they happen).
    # (Polled from here: the page's own policy forbids the eval that wait_for_function uses.)
    deadline = time.monotonic() + 10
    while not tab.page.evaluate("window.__violations.some(v => v.includes('trusted-types'))"):
        assert time.monotonic() < deadline, "the browser reported no CSP violation"
        time.sleep(0.05)
    tab.page.evaluate("window.__violations = []")  # the refusal above was the point


def test_the_scripts_never_parse_strings_as_html() -> None:
    risky = (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
    )
    for script in sorted((WEB / "static").glob("*.js")):
        text = script.read_text(encoding="utf-8")
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
        found = [word for word in risky if word in code]
        assert not found, f"{script.name} uses {found}"
    page = (WEB / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "style=" not in page and " on" + "click=" not in page
