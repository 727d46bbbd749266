"""A generative server (the scripted OpenAI-protocol stub as its language model): the draft
is seen growing as the model streams, then replaced by the verified answer; the view follows
a growing answer until the reader scrolls up, and again once they are back at its end; the
stop button ends an answer mid-stream and keeps nothing unverified."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, expect

from tests.openai_stub import Reply, Stub, serve
from tests.web.browser import Tab, new_tab
from tests.web.serving import serve_corpus

pytestmark = pytest.mark.slow

SOURDOUGH = "How long is the rye sourdough fermented?"


def citing(
    phrase: str, sentence: str, piece_delay: float, repeat: int = 1, between: str = " "
) -> object:
    """A script: `sentence` citing the prompt's passage that contains `phrase`, `repeat`
    times, `between` each."""

    def script(messages: list[dict[str, str]]) -> Reply:
        prompt = messages[-1]["content"]
        passages = re.findall(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', prompt, re.S)
        n = next(number for number, text in passages if phrase in text)
        return Reply(between.join([f"{sentence} [{n}]."] * repeat), piece_delay=piece_delay)

    return script


@pytest.fixture(scope="module")
def generative(
    tmp_path_factory: pytest.TempPathFactory, ingested: Path
) -> Iterator[SimpleNamespace]:
    with serve() as stub:
        env = {
            "CITED_ANSWER_MODE": "generative",
            "CITED_LLM_BASE_URL": stub.base_url,
            "CITED_LLM_MODEL": "stub-model",
        }
        for server in serve_corpus(ingested, tmp_path_factory.mktemp("generative"), env=env):
            yield SimpleNamespace(stub=stub, **vars(server))


@pytest.fixture
def llm_tab(browser: Browser, generative: SimpleNamespace, tmp_path: Path) -> Iterator[Tab]:
    context, tab = new_tab(browser, generative.base, tmp_path)
    tab.open()
    yield tab
    tab.check()
    context.close()


def script(stub: Stub, fn: object) -> None:
    stub.script = fn  # type: ignore[assignment]


def test_the_draft_streams_then_settles_into_the_verified_answer(
    llm_tab: Tab, generative: SimpleNamespace
) -> None:
    sentence = "The rye sourdough is fermented for 36 hours before it is baked"
    script(generative.stub, citing("36 hours", sentence, piece_delay=0.08))
    contract = llm_tab.ask(SOURDOUGH)
    assert contract["mode"] == "generative" and not contract["abstained"], contract
    lengths = llm_tab.page.evaluate("window.__draft")
    growing = sorted(set(lengths))
    assert len(growing) >= 4 and lengths == sorted(lengths)  # seen piece by piece
    assert llm_tab.states()[-1] == "verified"
    answer = llm_tab.settled()
    assert answer.locator(".draft").count() == 0
    assert sentence in (answer.locator(".verified").text_content() or "")
    answer.locator(".chip").first.click()
    expect(llm_tab.page.locator("#source-passage mark")).to_have_text(
        contract["citations"][0]["quote"]
    )


# The conversation pane: how far it is from its end, and how long the draft is.
PANE = """() => {
    const log = document.getElementById("conversation");
    const draft = document.querySelector(".turn:last-child .draft");
    return {
        fromEnd: log.scrollHeight - log.scrollTop - log.clientHeight,
        scrollTop: log.scrollTop,
        overflow: log.scrollHeight - log.clientHeight,
        draft: draft ? draft.textContent.length : -1,
        root: document.documentElement.scrollTop,
    };
}"""


def pane(tab: Tab) -> dict[str, float]:
    return dict(tab.page.evaluate(PANE))


def poll(tab: Tab, until: Callable[[dict[str, float]], bool]) -> dict[str, float]:
    """The pane once `until(pane)`, within 20 s (polled: the page's CSP forbids the eval
    that wait_for_function uses)."""
    deadline = time.monotonic() + 20
    while not until(now := pane(tab)):
        assert time.monotonic() < deadline, now
        time.sleep(0.05)
    return now


def grown(tab: Tab, by: float = 0) -> dict[str, float]:
    """The pane once the draft has grown (by more than `by` characters)."""
    length = pane(tab)["draft"]
    return poll(tab, lambda now: now["draft"] > length + by)


def test_the_view_follows_a_growing_answer_until_the_reader_scrolls_up(
    llm_tab: Tab, generative: SimpleNamespace
) -> None:
    page = llm_tab.page
    page.set_viewport_size({"width": 1280, "height": 600})
    lines = citing(
        "36 hours", "The rye sourdough is fermented for 36 hours", 0.03, repeat=45, between="\n"
    )
    script(generative.stub, lines)  # 45 lines of draft, about 9 s of streaming
    page.fill("#question", SOURDOUGH)
    page.press("#question", "Enter")
    poll(llm_tab, lambda now: now["overflow"] > 150)  # the draft is taller than the pane now
    for _ in range(4):  # followed: the end stays in view as it grows
        seen = grown(llm_tab)
        assert seen["fromEnd"] <= 8 and seen["root"] == 0, seen

    page.mouse.move(640, 300)
    page.mouse.wheel(0, -300)  # the reader scrolls up to read
    page.wait_for_timeout(400)
    left = pane(llm_tab)
    assert left["fromEnd"] > 100, left
    later = grown(llm_tab, by=100)  # more came: they are not pulled down
    assert later["scrollTop"] == pytest.approx(left["scrollTop"], abs=1), (left, later)
    assert later["fromEnd"] > left["fromEnd"]

    page.mouse.wheel(0, 5_000)  # back at the end: followed again
    page.wait_for_timeout(400)
    assert pane(llm_tab)["fromEnd"] <= 8
    seen = grown(llm_tab)
    assert seen["fromEnd"] <= 8, seen

    llm_tab.settled().wait_for()  # the verified answer, its end in view above the composer
    page.wait_for_timeout(200)
    assert pane(llm_tab)["fromEnd"] <= 8
    footer = llm_tab.settled().locator("footer").bounding_box()
    composer = page.locator(".composer").bounding_box()
    assert footer and composer and footer["y"] + footer["height"] <= composer["y"]


def test_stop_ends_the_answer_and_keeps_nothing_unverified(
    llm_tab: Tab, generative: SimpleNamespace
) -> None:
    page = llm_tab.page
    slow = citing("36 hours", "The sourdough rests for 36 hours", piece_delay=0.25, repeat=8)
    script(generative.stub, slow)
    page.fill("#question", SOURDOUGH)
    page.press("#question", "Enter")
    expect(page.locator(".draft")).to_contain_text("The sourdough rests")
    stop = page.get_by_role("button", name="Stop")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    stop.click()
    answer = llm_tab.settled()
    expect(answer).to_have_attribute("data-state", "stopped")
    expect(answer).to_contain_text("Stopped")
    assert answer.locator(".draft").count() == 0 and answer.locator(".chip").count() == 0
    expect(stop).to_be_hidden()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()

    script(generative.stub, citing("36 hours", "It is fermented for 36 hours", piece_delay=0))
    contract = llm_tab.ask(SOURDOUGH)
    assert not contract["abstained"] and page.locator(".turn").count() == 2
