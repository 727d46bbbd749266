"""Asking in the chat page (a real chromium against `cited serve`): the answer streams and
settles into the verified answer; each [n] is a chip; a chip opens the source panel with the
cited quote highlighted in its passage, exactly the citation's quote."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.corpus import ABSENT
from tests.web.browser import Tab
from tests.web.corpus import WEB_QUESTIONS

pytestmark = pytest.mark.slow


def chips_match_the_citations(tab: Tab, contract: dict[str, Any]) -> None:
    chips = tab.settled().locator(".verified .chip")
    markers = sum(len(s["citations"]) for s in contract["sentences"])
    assert chips.count() == markers > 0
    assert {int(n) for n in chips.evaluate_all("cs => cs.map(c => c.dataset.n)")} == {
        c["n"] for c in contract["citations"]
    }


def open_chip(tab: Tab, n: int) -> str:
    """Click chip n of the last answer; the highlighted text in the source panel."""
    tab.settled().locator(f".verified .chip[data-n='{n}']").first.click()
    mark = tab.page.locator("#source-passage mark")
    mark.wait_for()
    assert tab.page.locator("#source-note").text_content() == ""  # shown in its context
    return mark.text_content() or ""


@pytest.mark.parametrize("question", list(WEB_QUESTIONS))
def test_the_answer_settles_with_chips_that_open_the_exact_quote(tab: Tab, question: str) -> None:
    contract = tab.ask(question)
    assert not contract["abstained"], contract
    assert any(WEB_QUESTIONS[question] in c["quote"] for c in contract["citations"])
    states = tab.states()
    assert states[0] == "searching" and "drafting" in states and states[-1] == "verified"
    chips_match_the_citations(tab, contract)
    shown = tab.settled().locator(".verified").text_content() or ""
    for sentence in contract["sentences"]:
        without_markers = sentence["text"].split("[")[0].strip()
        assert without_markers in shown
    for citation in contract["citations"]:
        assert open_chip(tab, citation["n"]) == citation["quote"]
        title = tab.page.locator("#source-title").text_content()
        assert title == citation["title"]
        passage = tab.page.locator("#source-passage").text_content() or ""
        assert len(passage) > len(citation["quote"])  # the quote is shown in its context


def test_a_pdf_citation_names_its_page_and_links_the_original_there(tab: Tab) -> None:
    contract = tab.ask("How many otters did the Tarn valley survey count?")
    citation = contract["citations"][0]
    assert citation["page"] == 2
    assert open_chip(tab, citation["n"]) == citation["quote"]
    assert "page 2" in (tab.page.locator("#source-meta").text_content() or "")
    link = tab.page.locator("#source-link")
    href = link.get_attribute("href")
    assert href == f"/v1/documents/{citation['document_id']}/file#page=2"
    assert "page 2" in (link.text_content() or "")
    original = tab.page.request.get(tab.base + href.split("#")[0])
    assert original.ok and original.body().startswith(b"%PDF")


# What the page says of a decline, by the answer's reason_code.
DECLINED = {
    "no_passages": "Nothing in your documents matched this question.",
    "unrelated": "None of the passages found is about this.",
    "not_answered": "None of the passages found answers this.",
    "unsupported": "none of its sentences was backed by the passage it cited",
}


# Today the first is declined as unrelated (best similarity 0.04), the second as not
# answered (best P(answers) 0.01).
@pytest.mark.parametrize("question", ["What is the capital of Peru?", ABSENT[1]])
def test_a_decline_is_said_for_people_with_the_closest_passages(tab: Tab, question: str) -> None:
    contract = tab.ask(question)
    assert contract["abstained"] and contract["reason_code"] in DECLINED, contract
    assert re.search(r"\d\.\d\d", contract["reason"])  # the figures stay in the JSON
    answer = tab.settled()
    assert answer.get_attribute("data-state") == "abstained"
    assert answer.locator(".chip").count() == 0
    assert answer.locator("[role=alert]").count() == 0
    text = answer.text_content() or ""
    assert "Not answered by your documents" in text
    assert DECLINED[contract["reason_code"]] in text
    assert contract["reason"] not in text and not re.search(r"\d\.\d\d|P\(|threshold", text)
    expect(answer.get_by_role("button", name="Copy answer")).to_have_count(0)

    closest = answer.get_by_role("list", name="Closest passages").get_by_role("listitem")
    assert 0 < closest.count() == min(3, len(tab.found))
    first = tab.found[0]
    assert first["title"] in (closest.first.text_content() or "")
    closest.first.get_by_role("button").click()
    expect(tab.page.locator("#source-passage mark")).to_have_text(first["text"])
    tab.screenshot("declined")
    expect(tab.page.locator("#source-meta")).to_contain_text("Passage 1")
    assert tab.page.locator("#source-note").text_content() == ""
    tab.page.keyboard.press("Escape")
    expect(closest.first.get_by_role("button")).to_be_focused()


def test_a_follow_up_is_understood_from_the_conversation(tab: Tab) -> None:
    first = tab.ask("Who is the harbour master?")
    assert "Ingrid Solberg" in first["answer"]
    follow_up = tab.ask("What does she schedule?")
    assert not follow_up["abstained"], follow_up
    assert "pilot boats" in follow_up["answer"]
    assert follow_up["question"] != "What does she schedule?"
    assert tab.page.locator(".turn").count() == 2  # the conversation stays on the page
    searched = tab.settled().locator(".searched").text_content() or ""
    assert follow_up["question"] in searched


def test_enter_sends_and_shift_enter_adds_a_line(tab: Tab) -> None:
    box = tab.page.locator("#question")
    box.fill("How many hives are")
    box.press("Shift+Enter")
    box.press_sequentially("in the rooftop apiary?")
    assert box.input_value() == "How many hives are\nin the rooftop apiary?"
    assert tab.page.locator(".turn").count() == 0
    with tab.page.expect_response(lambda r: r.url.endswith("/v1/ask")):
        box.press("Enter")
    tab.settled().wait_for()
    assert "nine hives" in (tab.settled().text_content() or "")
    assert box.input_value() == ""


def test_copy_puts_the_answer_and_its_quotes_on_the_clipboard(tab: Tab) -> None:
    tab.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=tab.base)
    contract = tab.ask("When is honey harvested?")
    tab.settled().get_by_role("button", name="Copy answer").click()
    expect(tab.settled().get_by_role("button", name="Copied")).to_be_visible()
    copied = tab.page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(contract["answer"])
    for citation in contract["citations"]:
        assert f"[{citation['n']}]" in copied and citation["quote"] in copied


def test_keyboard_alone_reaches_a_chip_opens_and_closes_the_source(tab: Tab) -> None:
    contract = tab.ask("How are varroa mites treated?")
    page = tab.page
    page.locator("#question").focus()
    for _ in range(40):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.classList.contains('chip')"):
            break
    else:
        raise AssertionError("no chip reachable with the keyboard")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")  # focus is visible
    page.keyboard.press("Enter")
    assert page.locator("#source-passage mark").text_content() == contract["citations"][0]["quote"]
    assert page.evaluate("document.activeElement.id") == "source-title"
    page.keyboard.press("Escape")
    expect(page.locator("#source-panel")).to_be_hidden()
    assert page.evaluate("document.activeElement.classList.contains('chip')")


def test_new_chat_clears_the_conversation(tab: Tab) -> None:
    tab.ask("How many books can a library member borrow?")
    tab.page.get_by_role("button", name="New chat").click()
    assert tab.page.locator(".turn").count() == 0
    assert tab.page.locator("#welcome").is_visible()
    follow = tab.ask("What is the fine for overdue books?")
    assert "10 cents per day" in follow["answer"]
    assert follow["question"] == "What is the fine for overdue books?"
