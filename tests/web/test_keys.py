"""A server with API keys: the page asks for one on the first 401, keeps it in this tab's
sessionStorage (never in a URL), asks again when it is refused or forgotten, fetches
originals with it, and shows a 403 for what the key may not do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, expect

from tests.web.browser import Tab, new_tab
from tests.web.serving import serve_corpus

pytestmark = pytest.mark.slow

ADMIN = "admin-7f3c2a"
READER = "reader-91be04"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, ingested: Path) -> Iterator[SimpleNamespace]:
    env = {"CITED_API_KEYS": f"{ADMIN}:ask,read,ingest,delete; {READER}:ask,read"}
    yield from serve_corpus(ingested, tmp_path_factory.mktemp("keyed"), env=env)


@pytest.fixture
def keyed_tab(browser: Browser, keyed: SimpleNamespace, tmp_path: Path) -> Iterator[Tab]:
    context, tab = new_tab(browser, keyed.base, tmp_path, accept_downloads=True)
    yield tab
    tab.check()
    context.close()


def give_key(tab: Tab, key: str, reason: str) -> None:
    dialog = tab.page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(reason)
    dialog.get_by_label("API key").fill(key)
    dialog.get_by_role("button", name="Use key").click()


def test_the_key_is_asked_kept_in_the_tab_and_forgotten(keyed_tab: Tab) -> None:
    tab, page = keyed_tab, keyed_tab.page
    tab.open()
    give_key(tab, "not-a-key", "This server requires an API key.")
    give_key(tab, ADMIN, "The key was not accepted")
    expect(page.locator("#key-dialog")).to_be_hidden()
    expect(page.locator(".doc").first).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('cited.apiKey')") == ADMIN
    contract = tab.ask("How long is the rye sourdough fermented?")
    assert not contract["abstained"]

    page.reload()  # the same tab: the key is still there, no prompt
    expect(page.locator(".doc").first).to_be_visible()
    expect(page.locator("#key-dialog")).to_be_hidden()
    assert all(ADMIN not in url and READER not in url for url in tab.requests)
    assert ADMIN not in page.url

    page.get_by_role("button", name="Forget API key").click()
    expect(page.locator("#key-dialog")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('cited.apiKey')") is None
    page.locator("#key-dialog").get_by_role("button", name="Cancel").click()
    expect(page.locator("#banner")).to_contain_text("API key")


def test_originals_are_fetched_with_the_key(keyed_tab: Tab, keyed: SimpleNamespace) -> None:
    tab, page = keyed_tab, keyed_tab.page
    tab.open()
    give_key(tab, ADMIN, "requires an API key")
    contract = tab.ask("Where did the head baker train?")
    tab.settled().locator(".verified .chip").first.click()
    assert page.locator("#source-passage mark").text_content() == contract["citations"][0]["quote"]
    with page.expect_download() as download:
        page.locator("#source-link").click()
    saved = download.value
    assert saved.suggested_filename == "bakery.txt"
    assert Path(saved.path()).read_bytes() == (keyed.folder / "bakery.txt").read_bytes()


def test_a_read_only_key_is_told_it_may_not_delete(keyed_tab: Tab) -> None:
    tab, page = keyed_tab, keyed_tab.page
    tab.open()
    give_key(tab, READER, "requires an API key")
    item = page.locator(".doc", has_text="Keeping bees on the roof")
    item.get_by_role("button", name="Delete Keeping bees on the roof").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("#docs-status")).to_contain_text("could not be deleted")
    expect(page.locator("#docs-status")).to_contain_text("delete")
    assert item.is_visible()
