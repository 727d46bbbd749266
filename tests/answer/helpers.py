"""Building a QuestionAnswerer on the test corpus, and the contract's invariants as checks
any test can run on an answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from answer import (
    NO_ANSWER,
    REASON_CODES,
    ChatClient,
    ExtractiveAnswerer,
    QuestionAnswerer,
    SupportChecker,
)
from answer.terms import missing_terms
from index import KnowledgeBase
from retrieve import Retriever
from tests.helpers.corpora import ingested
from tests.helpers.fixtures import Readers
from tests.openai_stub import Reply, Stub, serve

SUPPORT_THRESHOLD = 0.5

Scripted = tuple[QuestionAnswerer, KnowledgeBase, Stub]  # generative path, scripted model


@contextmanager
def scripted_qa(
    folder: Path, files: dict[str, str], embedder: Any, readers: Readers
) -> Iterator[Scripted]:
    """A generative QuestionAnswerer over `files` (ingested into `folder`) whose language
    model is the scripted stub: the support check decides what is kept."""
    with ingested(folder, files, embedder) as kb, serve() as stub:
        made = make_qa(kb, embedder, readers, stub.base_url, retry_unverified=False)
        try:
            yield made, kb, stub
        finally:
            made.close()


def kept(qa: Scripted, question: str, sentence: str) -> bool:
    """Whether the answer keeps `sentence` when the model replies with it, citing [1]."""
    answerer, kb, stub = qa
    stub.replies(Reply(sentence.rstrip(".") + " [1]."))
    answer = answerer.ask(question, mode="generative")
    assert_contract(answer.to_dict(), kb)
    return not answer.abstained


class QAFactory:
    """Builds QuestionAnswerers on the test corpus and closes them all at the end."""

    def __init__(self, kb: KnowledgeBase, embedder: Any, readers: Readers) -> None:
        self.kb, self.embedder, self.readers = kb, embedder, readers
        self.made: list[QuestionAnswerer] = []

    def __call__(self, llm_url: str | None = None, **options: Any) -> QuestionAnswerer:
        self.made.append(make_qa(self.kb, self.embedder, self.readers, llm_url, **options))
        return self.made[-1]

    def close(self) -> None:
        for qa in self.made:
            qa.close()


def make_qa(
    kb: KnowledgeBase,
    embedder: Any,
    readers: Readers,
    llm_url: str | None = None,
    **options: Any,
) -> QuestionAnswerer:
    client_options = {k[4:]: options.pop(k) for k in list(options) if k.startswith("llm_")}
    llm = None
    if llm_url:
        llm = ChatClient(
            llm_url,
            "stub-model",
            "secret-key",
            **{"timeout": 5.0, "backoff": 0.01, **client_options},
        )
    return QuestionAnswerer(
        Retriever(kb, embedder),
        SupportChecker(readers.support, SUPPORT_THRESHOLD),
        ExtractiveAnswerer(readers.answer),
        llm,
        **options,
    )


def assert_contract(answer: dict[str, Any], kb: KnowledgeBase) -> None:
    """Invariants 1-4 of the answer contract (docs/answer-contract.md), checked independently of
    the code that produced the answer."""
    citations = {c["n"]: c for c in answer["citations"]}
    # 1. every quote is the document text at its offsets
    for c in answer["citations"]:
        assert kb.store.document_text(c["document_id"])[c["start"] : c["end"]] == c["quote"], c
    if answer["abstained"]:
        # 4. an abstention says so, with a reason, and cites nothing
        assert answer["answer"] == NO_ANSWER and answer["reason"]
        assert answer["reason_code"] in REASON_CODES, answer
        assert answer["citations"] == [] and answer["sentences"] == []
        return
    assert answer["sentences"] and answer["reason"] is None and answer["reason_code"] is None
    used: set[int] = set()
    for sentence in answer["sentences"]:
        # 2. every sentence is cited, with citations that exist
        assert sentence["citations"], sentence
        assert set(sentence["citations"]) <= set(citations), sentence
        assert sentence["text"] in answer["answer"]
        used.update(sentence["citations"])
        # 3. every (sentence, quote) pair passed the support check
        assert sentence["support_by"] in ("model", "judge", "verbatim")
        if sentence["support_by"] != "judge":  # the judge decides within its band
            assert SUPPORT_THRESHOLD <= sentence["support"] <= 1.0
        claim = re.sub(r"\s*\[\d+\]", "", sentence["text"])
        # ... its numbers and names in what it cites of each passage (one quote, or several
        # of one passage when they sit in sentences apart)
        by_chunk: dict[int, list[str]] = {}
        for n in sentence["citations"]:
            by_chunk.setdefault(citations[n]["chunk_id"], []).append(citations[n]["quote"])
        for quotes in by_chunk.values():
            assert missing_terms(claim, " ".join(quotes)) == [], (claim, quotes)
    in_text = {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])}
    assert used == set(citations) == in_text
    assert sorted(citations) == list(range(1, len(citations) + 1))
