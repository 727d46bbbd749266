"""The answer contract holds for every answer, in both modes, over many questions against a
real ingested corpus; extractive answers quote the answering sentence and abstain on
questions the documents do not answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from answer import ANSWER_MODES, AnswerMode, QuestionAnswerer
from index import SentenceTransformerEmbedder
from tests.answer.helpers import assert_contract, make_qa
from tests.corpus import ABSENT, QUESTIONS
from tests.helpers.fixtures import AnswerKb, Readers
from tests.openai_stub import Reply, Stub, serve

PASSAGE = re.compile(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', re.DOTALL)
WORD = re.compile(r"[a-z]{4,}")


def plausible_model(messages: list[dict[str, str]]) -> Reply:
    """A scripted model of mixed quality: quotes the best-matching passage's best sentence
    with its number, then adds an uncited sentence, one citing a passage that does not
    exist, and one that cites the right passage but gets a number wrong."""
    user = messages[-1]["content"]
    question = user.split("\n", 1)[0]
    words = set(WORD.findall(question.lower()))
    best: tuple[int, int, str] = (0, 0, "")
    for n, text in PASSAGE.findall(user):
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            overlap = len(words & set(WORD.findall(sentence.lower())))
            if overlap > best[0]:
                best = (overlap, int(n), sentence.strip())
    if not best[0]:
        return Reply("The documents do not answer this question.")
    overlap, n, sentence = best
    return Reply(
        f"{sentence.rstrip('.')} [{n}]. This is widely known. "
        f"It was confirmed by later studies [9]. It happened in 1999 [{n}]."
    )


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    with serve() as running:
        running.script = plausible_model
        yield running


@pytest.fixture(scope="module")
def qa(
    answer_kb: AnswerKb, embedder: SentenceTransformerEmbedder, readers: Readers, stub: Stub
) -> Iterator[QuestionAnswerer]:
    made = make_qa(answer_kb[0], embedder, readers, stub.base_url, retry_unverified=False)
    yield made
    made.close()


@pytest.mark.parametrize("mode", ANSWER_MODES)
def test_invariants_hold_for_every_answer(
    answer_kb: AnswerKb, qa: QuestionAnswerer, mode: AnswerMode
) -> None:
    for question in [*QUESTIONS, *ABSENT]:
        answer = qa.ask(question, mode=mode)
        assert answer.mode == mode and answer.question == question
        assert_contract(answer.to_dict(), answer_kb[0])


def test_generative_answers_keep_only_the_supported_sentence(qa: QuestionAnswerer) -> None:
    answered = 0
    for question in QUESTIONS:
        answer = qa.ask(question, mode="generative")
        if answer.abstained:
            continue
        answered += 1
        assert len(answer.sentences) == 1, answer.answer  # the three bad ones are removed
        assert "widely known" not in answer.answer and "1999" not in answer.answer
    assert answered >= len(QUESTIONS) - 3


def test_extractive_answers_quote_the_answering_sentence(qa: QuestionAnswerer) -> None:
    """The threshold is calibrated to answer 87% of answerable held-out SQuAD questions, so
    a miss or two here is the calibration at work, not a failure."""
    found = 0
    for question, (name, phrase) in QUESTIONS.items():
        answer = qa.ask(question)
        if answer.abstained:
            continue
        first = answer.citations[0]
        found += Path(first.source).name == name and phrase in first.quote
    assert found >= len(QUESTIONS) - 2, found


def test_extractive_answers_abstain_when_the_documents_do_not_answer(qa: QuestionAnswerer) -> None:
    for question in ABSENT:
        answer = qa.ask(question)
        assert answer.abstained, (question, answer.answer)
        assert answer.reason and answer.citations == ()


def test_stream_gives_passages_then_text_then_the_verified_answer(qa: QuestionAnswerer) -> None:
    for mode in ("extractive", "generative"):
        events = list(qa.stream("How many hives are in the rooftop apiary?", mode=mode))
        kinds = [e.kind for e in events]
        assert kinds[0] == "passages" and kinds[-1] == "final" and "delta" in kinds
        assert set(kinds[1:-1]) == {"delta"}
        final = events[-1].answer  # type: ignore[union-attr]
        assert "nine hives" in final.answer
        streamed = "".join(e.text for e in events if e.kind == "delta")
        if mode == "generative":
            assert "[9]" in streamed and "[9]" not in final.answer  # replaced by the verified one


def test_footnote_markers_inside_a_quoted_sentence_are_not_citations(readers: Readers) -> None:
    from answer import SupportChecker
    from answer.text import Claim
    from answer.verify import verify
    from retrieve import Passage

    text = "The dam was finished in 1936 [2] and holds 35 cubic kilometres of water."
    passage = Passage(
        1, "d", "default", "Dams", "/d/dams.txt", None, None, 40, 40 + len(text), text, 1.0, 0.9
    )
    checker = SupportChecker(readers.support)
    verified = verify("q?", [Claim(text, (1,))], [passage], checker, "extractive", "m")
    answer = verified.answer
    assert (
        answer.answer
        == "The dam was finished in 1936 (2) and holds 35 cubic kilometres of water [1]."
    )
    assert answer.citations[0].quote == text and answer.sentences[0].support == 1.0


def test_one_quote_held_by_two_overlapping_chunks_is_one_citation(readers: Readers) -> None:
    """Overlapping chunks of one document both hold a CSV row: a sentence citing both gets
    one citation of that span, not [1] and [2] of the same words."""
    from answer import SupportChecker
    from answer.text import Claim
    from answer.verify import verify
    from retrieve import Passage

    row = "office: HQ; city: Hamburg; manager: Anna Berg."
    first = "office: West; city: Bremen; manager: Ole Lund.\n" + row
    second = row + "\noffice: South; city: Munich; manager: Jonas Weber."
    start = 200
    passages = [
        Passage(1, "d", "default", "Offices", "/d/offices.csv", None, None, start,
                start + len(first), first, 1.0, 0.9),
        Passage(2, "d", "default", "Offices", "/d/offices.csv", None, None,
                start + len(first) - len(row), start + len(first) - len(row) + len(second),
                second, 0.9, 0.8),
    ]  # fmt: skip
    checker = SupportChecker(readers.support)
    verified = verify("q?", [Claim(row, (1, 2))], passages, checker, "generative", "m")
    answer = verified.answer
    assert len(answer.citations) == 1, answer.citations
    assert answer.answer == row.removesuffix(".") + " [1]."
    assert answer.sentences[0].citations == (1,)


def test_answers_hold_the_contract_on_every_store(
    database_url: str, embedder: SentenceTransformerEmbedder, readers: Readers, tmp_path: Path
) -> None:
    """The same corpus ingested into each store (SQLite FTS5, PostgreSQL text search): the
    hybrid answers quote the answering sentence and keep the invariants."""
    from index import KnowledgeBase, Store
    from ingest import Ingestor
    from tests.corpus import write_corpus

    store = Store(database_url)
    qa = None
    try:
        kb = KnowledgeBase(store, tmp_path / "vectors.faiss", embedder.model_name)
        report = Ingestor(kb, embedder, parse_workers=1).run(
            [write_corpus(tmp_path / "c")], "default"
        )
        assert not report.failed
        qa = make_qa(kb, embedder, readers)
        found = 0
        for question, (name, phrase) in QUESTIONS.items():
            answer = qa.ask(question)
            assert_contract(answer.to_dict(), kb)
            found += not answer.abstained and any(
                Path(c.source).name == name and phrase in c.quote for c in answer.citations
            )
        assert found >= len(QUESTIONS) - 2
        assert all(qa.ask(question).abstained for question in ABSENT)
    finally:
        if qa is not None:
            qa.close()
        store.close()


def test_a_sentence_whose_terms_sit_in_sentences_apart_cites_each(readers: Readers) -> None:
    """The claim's names are in one sentence of the passage and its number in another: the
    sentence cites both quotes, each an exact span of the document."""
    from answer import SupportChecker
    from answer.text import Claim
    from answer.verify import verify
    from retrieve import Passage

    text = (
        "The Hollow Bridge stands in Keswick. It was rebuilt after a flood. "
        "The bridge has three arches of local slate."
    )
    start = 50
    passage = Passage(
        3,
        "d",
        "default",
        "Bridges",
        "/d/b.txt",
        None,
        None,
        start,
        start + len(text),
        text,
        1.0,
        0.9,
    )
    checker = SupportChecker(readers.support)
    claim = "The Hollow Bridge in Keswick has three arches."
    answer = verify("q?", [Claim(claim, (1,))], [passage], checker, "generative", "m").answer
    assert answer.sentences[0].citations == (1, 2)
    assert answer.answer == "The Hollow Bridge in Keswick has three arches [1][2]."
    for citation in answer.citations:
        assert text[citation.start - start : citation.end - start] == citation.quote
