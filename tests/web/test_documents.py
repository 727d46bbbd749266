"""The documents panel in a real browser: upload by drag-and-drop and by the file picker,
each file's outcome, the new document listed and cited, deletion after confirmation (never
cited again), the upload limit (413), an upload that waits for another writer, and the
collection picker."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import FilePayload, Page, expect

from index import WriterLock
from tests.web.browser import Tab

pytestmark = pytest.mark.slow

FERRY = "Night ferry notes\n\nThe night ferry to Olsund carries 84 bicycles on its lower deck.\n"
FERRY_QUESTION = "How many bicycles does the night ferry to Olsund carry?"
HERON = "Heron log\n\nThe grey herons at Fenmoor nest in the alder carr every April.\n"
HERON_QUESTION = "Where do the grey herons at Fenmoor nest?"


def drop(page: Page, files: dict[str, bytes]) -> None:
    """Drag files from the desktop onto the drop zone."""
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, bytes] of Object.entries(files)) {
                transfer.items.add(new File([new Uint8Array(bytes)], name));
            }
            return transfer;
        }""",
        {name: list(data) for name, data in files.items()},
    )
    page.dispatch_event("#dropzone", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def finished_upload(page: Page) -> str:
    upload = page.locator(".upload").first
    upload.and_(page.locator("[data-state=done], [data-state=failed]")).wait_for(timeout=90_000)
    return upload.text_content() or ""


def cites(contract: dict[str, Any], name: str) -> bool:
    return any(Path(c["source"]).name == name for c in contract["citations"])


def test_upload_list_ask_delete_and_never_cited_again(tab: Tab) -> None:
    page = tab.page
    drop(page, {"ferry.txt": FERRY.encode(), "broken.pdf": b"this is not a PDF at all"})
    outcome = finished_upload(page)
    assert "ferry.txt: added (1 chunk)" in outcome and "(1 added, 1 failed)" in outcome
    failed = page.locator(".outcomes li[data-status=failed]")
    assert failed.count() == 1 and "broken.pdf: failed — " in (failed.text_content() or "")
    assert "PDF" in (failed.text_content() or "")  # the reason names the problem
    item = page.locator(".doc", has_text="Night ferry notes")
    item.wait_for()
    assert "1 chunk" in (item.text_content() or "")
    page.get_by_role("button", name="Dismiss the report on 2 files").click()
    expect(page.locator(".upload")).to_have_count(0)

    contract = tab.ask(FERRY_QUESTION)
    assert cites(contract, "ferry.txt") and "84 bicycles" in contract["answer"]

    item.get_by_role("button", name="Delete Night ferry notes").click()
    dialog = page.locator("#confirm-dialog")
    assert dialog.is_visible() and "Night ferry notes" in (dialog.text_content() or "")
    dialog.get_by_role("button", name="Cancel").click()
    assert dialog.is_hidden() and item.is_visible()  # cancelled: nothing deleted

    item.get_by_role("button", name="Delete Night ferry notes").click()
    dialog.get_by_role("button", name="Delete").click()
    item.wait_for(state="detached")
    expect(page.locator("#docs-status")).to_contain_text("Deleted “Night ferry notes”")
    again = tab.ask(FERRY_QUESTION)
    assert not cites(again, "ferry.txt") and "84 bicycles" not in again["answer"]


def test_an_upload_over_the_limit_says_so(tab: Tab) -> None:
    tab.page.set_input_files(
        "#file-input",
        files=[FilePayload(name="huge.txt", mimeType="text/plain", buffer=b"word " * 300_000)],
    )
    outcome = finished_upload(tab.page)
    assert "huge.txt could not be uploaded: Too large" in outcome and "1 MB" in outcome
    assert tab.page.locator(".upload[role=alert], .upload [role=alert]").count() == 1


def test_an_upload_waiting_for_another_writer_says_so(tab: Tab, site: SimpleNamespace) -> None:
    page = tab.page
    upload = page.locator(".upload").first
    with WriterLock(site.data):  # another writer (a `cited ingest`) holds the store
        page.set_input_files(
            "#file-input",
            files=[FilePayload(name="heron.txt", mimeType="text/plain", buffer=HERON.encode())],
        )
        expect(upload).to_contain_text("waiting for another ingestion to finish")
        expect(upload.locator("progress")).to_be_visible()
        job = page.request.get(tab.base + "/v1/jobs").json()
        assert job["queue"]["running"]["status"] == "waiting", job["queue"]
        page.wait_for_timeout(1_000)  # still waiting, still saying so
        expect(upload).to_contain_text("waiting for another ingestion to finish")
        assert upload.get_attribute("data-state") == "uploading"
    try:
        assert "heron.txt: added" in finished_upload(page)  # it goes on once the lock is free
        assert "waiting" not in (upload.text_content() or "")
    finally:
        page.locator(".doc", has_text="Heron log").get_by_role("button", name="Delete").click()
        page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
        expect(page.locator(".doc", has_text="Heron log")).to_have_count(0)


def test_a_new_collection_is_picked_filled_and_asked_alone(tab: Tab) -> None:
    page = tab.page
    picker = page.get_by_label("Collection", exact=True)
    picker.select_option(label="New collection…")
    page.get_by_label("Name", exact=True).fill("field notes")
    page.get_by_role("button", name="Create").click()
    expect(picker).to_have_value("field notes")
    expect(page.locator("#docs-status")).to_have_text("No documents yet. Add some above.")
    try:
        page.set_input_files(
            "#file-input",
            files=[FilePayload(name="heron.txt", mimeType="text/plain", buffer=HERON.encode())],
        )
        assert "heron.txt: added" in finished_upload(page)
        page.locator(".doc", has_text="Heron log").wait_for()
        assert page.locator(".doc").count() == 1  # only this collection's documents
        inside = tab.ask(HERON_QUESTION)
        assert cites(inside, "heron.txt")
        picker.select_option("default")
        page.locator(".doc", has_text="Heron log").wait_for(state="detached")
        outside = tab.ask(HERON_QUESTION)
        assert not cites(outside, "heron.txt")
    finally:
        page.request.delete(tab.base + "/v1/collections/field%20notes")


def test_a_slow_upload_shows_its_progress(tab: Tab) -> None:
    page = tab.page
    page.evaluate(
        """() => {
            window.__progress = [];
            new MutationObserver((records) => {
                for (const r of records) {
                    if (r.target.tagName === "PROGRESS" && r.target.hasAttribute("value")) {
                        window.__progress.push(Number(r.target.value));
                    }
                }
            }).observe(document.getElementById("uploads"),
                       { subtree: true, attributes: true, attributeFilter: ["value"] });
        }"""
    )
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 15_000},
    )
    text = "".join(f"Line {n} of the slow upload about kestrels.\n" for n in range(1_000))
    try:
        page.set_input_files(
            "#file-input",
            files=[FilePayload(name="kestrels.txt", mimeType="text/plain", buffer=text.encode())],
        )
        assert "kestrels.txt: added" in finished_upload(page)
    finally:
        network.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
    seen = page.evaluate("window.__progress")
    assert any(0 < p < 100 for p in seen) and seen[-1] == 100, seen
    assert seen == sorted(seen)
    page.locator(".doc", has_text="kestrels").get_by_role("button", name="Delete").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("#docs-status")).to_contain_text("Deleted")


def test_a_quote_from_a_document_changed_since_the_answer_is_shown_alone(tab: Tab) -> None:
    page = tab.page

    def upload(text: str) -> None:
        page.set_input_files(
            "#file-input",
            files=[FilePayload(name="tern.txt", mimeType="text/plain", buffer=text.encode())],
        )
        outcome = finished_upload(page)
        assert "tern.txt: added" in outcome or "tern.txt: updated" in outcome
        page.locator(".upload").first.evaluate("node => node.remove()")

    upload("Tern log\n\nThe arctic terns reach the Skerry lighthouse on the ninth of May.\n")
    try:
        contract = tab.ask("When do the arctic terns reach the Skerry lighthouse?")
        assert cites(contract, "tern.txt")
        upload("Tern log, revised\n\nCounts were moved to the appendix.\n\n" + "x " * 50)
        tab.settled().locator(".verified .chip").first.click()
        expect(page.locator("#source-passage mark")).to_have_text(contract["citations"][0]["quote"])
        expect(page.locator("#source-note")).to_contain_text("quote is shown without its context")
    finally:
        page.locator(".doc", has_text="Tern log").get_by_role("button", name="Delete").click()
        page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
        expect(page.locator(".doc", has_text="Tern log")).to_have_count(0)


def test_the_picker_remembers_the_collection_and_forgets_a_deleted_one(tab: Tab) -> None:
    page = tab.page
    picker = page.get_by_label("Collection", exact=True)
    picker.select_option("default")
    expect(page.locator("#docs-status")).to_contain_text("in “default”")
    page.reload()
    expect(picker).to_have_value("default")
    expect(page.locator("#docs-status")).to_contain_text("in “default”")
    page.evaluate("localStorage.setItem('cited.collection', 'since deleted')")
    page.reload()
    expect(picker).to_have_value("")
    expect(page.locator("#docs-status")).to_have_text(re.compile(r"^\d+ documents$"))


def test_files_can_be_chosen_with_the_keyboard(tab: Tab) -> None:
    page = tab.page
    page.get_by_label("Collection", exact=True).focus()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "choose-files":
            break
    else:
        raise AssertionError("the Choose files button is not reachable with Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    # Enter on the button clicks the file input, which opens the browser's file chooser.
    # (The chooser itself is the browser's: Playwright's interception of it races in
    # headless chromium, so the click that opens it is what is checked.)
    page.evaluate(
        """() => {
            window.__chosen = 0;
            const input = document.getElementById("file-input");
            input.addEventListener("click", (event) => {
                window.__chosen += 1;
                event.preventDefault();
            });
        }"""
    )
    page.keyboard.press("Enter")
    page.keyboard.press("Space")
    assert page.evaluate("window.__chosen") == 2
    assert page.locator("#file-input").get_attribute("multiple") is not None
