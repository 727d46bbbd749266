"""A server with API keys: the page asks for one on the first 401, keeps it in this tab's
sessionStorage (never in a URL), asks again when it is refused or forgotten, fetches
originals with it, and offers only what the key may do (GET /v1/me): an ask-only key over
one collection gets that collection and the question box, a read key the documents but no
upload and no delete, a key that may not ask no question box, and none meets a 403."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from playwright.sync_api import Browser, Response, expect

from tests.web.browser import Tab, new_tab
from tests.web.serving import serve_corpus

pytestmark = pytest.mark.slow

ADMIN = "admin-7f3c2a"
READER = "reader-91be04"
ASKER = "asker-5d21c7"  # may only ask, and only in "hr"
VIEWER = "viewer-0c44e9"  # may only read
LEAVE = "Leave policy\n\nNew staff at Corvid Ltd get 27 days of paid leave a year.\n"
LEAVE_QUESTION = "How many days of paid leave do new staff at Corvid get?"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, ingested: Path) -> Iterator[SimpleNamespace]:
    keys = f"{ADMIN}:ask,read,ingest,delete; {READER}:ask,read; {ASKER}:ask:hr; {VIEWER}:read"
    env = {"CITED_API_KEYS": keys}
    for server in serve_corpus(ingested, tmp_path_factory.mktemp("keyed"), env=env):
        upload = httpx.post(
            server.base + "/v1/documents",
            params={"wait": "true"},
            data={"collection": "hr"},
            files={"files": ("leave.txt", LEAVE.encode())},
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=120,
        )
        assert upload.status_code == 200 and upload.json()["files"][0]["status"] == "added"
        yield server


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
    # a key that may do everything is offered everything
    expect(page.get_by_role("button", name="Choose files")).to_be_visible()
    expect(page.get_by_role("button", name="Delete Keeping bees on the roof")).to_be_visible()
    assert "New collection…" in page.locator("#collection option").all_text_contents()
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


def refusals(tab: Tab) -> list[str]:
    """Every 403 the page meets from now on (what the key may not do, tried anyway)."""
    seen: list[str] = []

    def note(response: Response) -> None:
        if response.status == 403:
            seen.append(response.url)

    tab.page.on("response", note)
    return seen


def no_permission_words(tab: Tab) -> None:
    text = tab.page.locator("body").inner_text()
    for word in ("lacks the", "scope", "may not use the collection", "Retry"):
        assert word not in text, (word, text)


def test_an_ask_only_key_is_offered_its_collection_and_asking_only(keyed_tab: Tab) -> None:
    tab, page = keyed_tab, keyed_tab.page
    refused = refusals(tab)
    tab.open()
    give_key(tab, ASKER, "requires an API key")
    picker = page.get_by_label("Collection", exact=True)
    expect(picker).to_have_value("hr")
    assert picker.locator("option").all_text_contents() == ["hr"]
    expect(page.locator("#docs-panel")).to_be_hidden()  # no list, no upload: no panel
    expect(page.get_by_role("button", name="Choose files")).to_have_count(0)
    expect(page.get_by_role("button", name="Documents", exact=True)).to_have_count(0)
    expect(page.locator("#banner")).to_be_hidden()
    assert "Add documents" not in page.locator("#welcome").inner_text()

    contract = tab.ask(LEAVE_QUESTION)
    assert not contract["abstained"] and "27 days" in contract["answer"], contract
    assert [Path(c["source"]).name for c in contract["citations"]] == ["leave.txt"]
    tab.settled().locator(".verified .chip").first.click()
    expect(page.locator("#source-passage mark")).to_have_text(contract["citations"][0]["quote"])
    expect(page.locator("#source-note")).to_contain_text("may not read the documents")
    expect(page.locator("#source-link")).to_be_hidden()  # the original needs `read`
    tab.screenshot("ask-only")
    page.keyboard.press("Escape")
    assert not refused, refused
    no_permission_words(tab)


def test_a_read_key_sees_the_documents_but_may_not_add_or_delete(keyed_tab: Tab) -> None:
    tab, page = keyed_tab, keyed_tab.page
    refused = refusals(tab)
    tab.open()
    give_key(tab, READER, "requires an API key")
    item = page.locator(".doc", has_text="Keeping bees on the roof")
    expect(item).to_be_visible()
    expect(page.locator(".doc", has_text="Leave policy")).to_be_visible()  # every collection
    expect(item.get_by_role("button")).to_have_count(0)  # no Delete
    expect(page.locator("#dropzone")).to_be_hidden()
    expect(page.get_by_role("button", name="Choose files")).to_have_count(0)
    options = page.locator("#collection option").all_text_contents()
    assert options[0] == "All collections" and "hr (1)" in options
    assert "New collection…" not in options
    assert "Add documents" not in page.locator("#welcome").inner_text()
    contract = tab.ask("When is honey harvested?")
    assert not contract["abstained"]
    tab.settled().locator(".verified .chip").first.click()
    expect(page.locator("#source-passage mark")).to_have_text(contract["citations"][0]["quote"])
    assert page.locator("#source-note").text_content() == ""  # shown in its context
    assert not refused, refused
    no_permission_words(tab)


def test_a_key_that_may_not_ask_gets_no_question_box(keyed_tab: Tab) -> None:
    tab, page = keyed_tab, keyed_tab.page
    refused = refusals(tab)
    tab.open()
    give_key(tab, VIEWER, "requires an API key")
    expect(page.locator(".doc", has_text="Keeping bees on the roof")).to_be_visible()
    box = page.get_by_label("Your question")
    expect(box).to_be_disabled()
    expect(box).to_have_attribute("placeholder", "This API key may not ask questions")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    assert page.locator(".turn").count() == 0 and not refused, refused
    no_permission_words(tab)
