"""The OpenAI-compatible endpoints, driven by the official `openai` Python client unchanged:
plain and streaming chat completions, models, follow-ups, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import openai
import pytest

from tests.answer.helpers import assert_contract
from tests.api.server import http_texts, running_server
from tests.corpus import write_corpus
from tests.helpers.cli import run_cited

pytestmark = pytest.mark.slow

KEY = "openai-client-key-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    top = tmp_path_factory.mktemp("openai")
    folder = write_corpus(top / "corpus")
    assert run_cited(top / "data", "ingest", str(folder)).returncode == 0
    env = {"CITED_API_KEYS": KEY}
    with (
        running_server(top / "data", top / "server.log", env) as base,
        httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {KEY}"}) as http,
        openai.OpenAI(base_url=base + "/v1", api_key=KEY, max_retries=0) as client,
    ):
        yield SimpleNamespace(client=client, http=http)


def citations_of(message: Any) -> list[dict[str, Any]]:
    extra = message.model_extra or {}
    citations: list[dict[str, Any]] = extra["citations"]
    return citations


def test_a_plain_completion_carries_markers_and_citations(server: SimpleNamespace) -> None:
    completion = server.client.chat.completions.create(
        model="cited",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "How many hives does the rooftop apiary have?"},
        ],
        temperature=0.2,
    )
    message = completion.choices[0].message
    assert completion.object == "chat.completion" and completion.model == "cited"
    assert completion.choices[0].finish_reason == "stop"
    assert message.role == "assistant" and message.content
    citations = citations_of(message)
    assert any("nine hives" in c["quote"] for c in citations)
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", message.content)}
    assert markers == {c["n"] for c in citations}
    contract = (completion.model_extra or {})["cited"]
    assert contract["answer"] == message.content
    assert_contract(contract, http_texts(server.http))


def test_streaming_sends_only_the_verified_answer(server: SimpleNamespace) -> None:
    question = "When was the Port of Kelling founded?"
    chunks = list(
        server.client.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": question}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = next(c for c in reversed(chunks) if c.choices)
    assert last.choices[0].finish_reason == "stop"
    citations = (last.choices[0].delta.model_extra or {})["citations"]
    contract = (last.model_extra or {})["cited"]
    assert text == contract["answer"] and "1642" in text
    assert citations == contract["citations"] and citations
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    plain = server.client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": question}]
    )
    assert plain.choices[0].message.content == text


def test_a_follow_up_is_answered_from_the_conversation(server: SimpleNamespace) -> None:
    completion = server.client.chat.completions.create(
        model="cited",
        messages=[
            {"role": "user", "content": "Who is the head baker at the Alder Street Bakery?"},
            {"role": "assistant", "content": "Tomasz Wilk is the head baker [1]."},
            {"role": "user", "content": "Where did he train?"},
        ],
    )
    message = completion.choices[0].message
    assert "Kraków" in (message.content or "")
    assert any(c["source"].endswith("bakery.txt") for c in citations_of(message))
    question = (completion.model_extra or {})["cited"]["question"]
    assert question.startswith("Where did he train?") and "Bakery" in question


def test_models_and_errors_come_back_as_openai_errors(server: SimpleNamespace) -> None:
    assert [m.id for m in server.client.models.list()] == ["cited", "default"]
    with pytest.raises(openai.NotFoundError) as missing:
        server.client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hello?"}]
        )
    assert "GET /v1/models" in str(missing.value)
    with pytest.raises(openai.BadRequestError):
        server.client.chat.completions.create(
            model="cited",
            messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
        )
    with (
        openai.OpenAI(
            base_url=str(server.http.base_url) + "/v1", api_key="wrong-key-123", max_retries=0
        ) as stranger,
        pytest.raises(openai.AuthenticationError),
    ):
        stranger.models.list()


def test_an_unanswerable_question_declines_in_the_content(server: SimpleNamespace) -> None:
    completion = server.client.chat.completions.create(
        model="cited",
        messages=[{"role": "user", "content": "What is the capital of Australia?"}],
    )
    contract = (completion.model_extra or {})["cited"]
    assert contract["abstained"] and citations_of(completion.choices[0].message) == []
    assert completion.choices[0].message.content == contract["answer"]
