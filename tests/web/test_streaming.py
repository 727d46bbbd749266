"""A generative server (the scripted OpenAI-protocol stub as its language model): the draft
is seen growing as the model streams, then replaced by the verified answer; the stop button
ends an answer mid-stream and keeps nothing unverified."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, expect

from tests.openai_stub import Reply, Stub, serve
from tests.web.browser import Tab, new_tab
from tests.web.serving import serve_corpus

pytestmark = pytest.mark.slow

SOURDOUGH = "How long is the rye sourdough fermented?"


def citing(phrase: str, sentence: str, piece_delay: float, repeat: int = 1) -> object:
    """A script: `sentence` citing the prompt's passage that contains `phrase`."""

    def script(messages: list[dict[str, str]]) -> Reply:
        prompt = messages[-1]["content"]
        passages = re.findall(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', prompt, re.S)
        n = next(number for number, text in passages if phrase in text)
        return Reply(" ".join([f"{sentence} [{n}]."] * repeat), piece_delay=piece_delay)

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
