"""Hybrid retrieval over a real ingested corpus (real FAISS, FTS5, bundled model): modes,
scopes applied inside the searches, deleted documents, and cross-encoder reranking with a
tiny random model loaded like a downloaded one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import ConfigError, IndexState, KnowledgeBase, Scope, SentenceTransformerEmbedder, Store
from retrieve import MODES, CrossEncoderReranker, Mode, Retriever
from tests.corpus import QUESTIONS
from tests.helpers.documents import new_document
from tests.helpers.fixtures import AnswerKb
from tests.models import tiny_classifier


@pytest.fixture(scope="module")
def retriever(answer_kb: AnswerKb, embedder: SentenceTransformerEmbedder) -> Retriever:
    return Retriever(answer_kb[0], embedder)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_finds_the_answering_document(
    answer_kb: AnswerKb, retriever: Retriever, mode: Mode
) -> None:
    store = answer_kb[0].store
    top1 = 0
    for question, (name, phrase) in QUESTIONS.items():
        passages = retriever.search(question, 3, mode)
        assert passages, question
        assert name in [Path(p.source).name for p in passages], (mode, question)
        top1 += Path(passages[0].source).name == name and phrase in passages[0].text
        for p in passages:
            assert store.document_text(p.document_id)[p.start : p.end] == p.text
            assert -1.0 <= p.similarity <= 1.0
    assert top1 >= len(QUESTIONS) - 2, (mode, top1)


def test_hybrid_passages_carry_both_ranks_and_fused_order(retriever: Retriever) -> None:
    passages = retriever.search("How long is the rye sourdough fermented?", 5, "hybrid")
    assert passages[0].dense_rank is not None and passages[0].lexical_rank is not None
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert len({p.chunk_id for p in passages}) == len(passages)


def test_scopes_apply_inside_both_searches(answer_kb: AnswerKb, retriever: Retriever) -> None:
    kb, _, folder = answer_kb
    bakery = next(d for d in kb.store.list_documents() if d.source.endswith("bakery.txt"))
    question = "When was the Port of Kelling founded?"  # answered by harbour.md only
    for mode in ("dense", "lexical", "hybrid"):
        only = retriever.search(question, 5, mode, Scope(document_ids=(bakery.id,)))
        if mode != "lexical":  # no bakery word matches the question: lexical finds nothing
            assert only, mode
        assert {p.document_id for p in only} <= {bakery.id}
    prefix = str(folder / "turb")
    hits = retriever.search(question, 5, "hybrid", Scope(source_prefix=prefix))
    assert hits and all(p.source.startswith(prefix) for p in hits)
    assert retriever.search(question, 5, "hybrid", Scope(source_prefix=str(folder / "%"))) == []
    assert (
        retriever.search(question, 5, "hybrid", Scope(source_prefix=str(folder / "_arbour"))) == []
    )
    assert retriever.search(question, 5, "hybrid", Scope(collection="elsewhere")) == []
    assert retriever.search(question, 5, "hybrid", Scope(collection="default"))


def test_a_deleted_document_is_never_retrieved(
    database_url: str, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    store = Store(database_url)
    try:
        kb = KnowledgeBase(store, tmp_path / "vectors.faiss", embedder.model_name)
        texts = [
            "The quarry at Pellow closed in 1968 after the slate ran out.",
            "Pellow village holds a slate festival every August.",
            "The river Tamsin floods the lower meadows each spring.",
        ]
        written = kb.write(
            [
                (new_document(f"/d/{i}.txt", [t]), embedder.embed_documents([t]))
                for i, t in enumerate(texts)
            ],
            embedder.dimension,
        )
        retriever = Retriever(kb, embedder)
        assert retriever.search("Pellow quarry slate", 3)[0].document_id == written[0].document.id
        kb.delete([written[0].document.id])
        for mode in ("dense", "lexical", "hybrid"):
            found = retriever.search("Pellow quarry slate closed 1968", 3, mode)
            assert written[0].document.id not in {p.document_id for p in found}, mode
    finally:
        store.close()


def test_bad_retriever_settings_and_questions_are_named(
    answer_kb: AnswerKb, embedder: SentenceTransformerEmbedder, retriever: Retriever
) -> None:
    with pytest.raises(ConfigError, match="CITED_SEARCH_MODE"):
        Retriever(answer_kb[0], embedder, mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="CITED_DENSE_WEIGHT"):
        Retriever(answer_kb[0], embedder, dense_weight=0, lexical_weight=0)
    with pytest.raises(ConfigError, match="question is empty"):
        retriever.search("   ")
    with pytest.raises(ConfigError, match="top_k"):
        retriever.search("bees", 0)


def test_cross_encoder_reranks_the_fused_candidates(
    answer_kb: AnswerKb, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    reranker = CrossEncoderReranker(str(tiny_classifier(tmp_path, name="tiny-cross-encoder")))
    retriever = Retriever(answer_kb[0], embedder, reranker=reranker, rerank_candidates=8)
    question = "When is honey harvested?"
    passages = retriever.search(question, 4)
    expected = reranker.scores(question, [p.text for p in passages])
    assert [p.score for p in passages] == pytest.approx(sorted(expected.tolist(), reverse=True))
    # The reranker saw the 8 best fused candidates, not just the 4 returned.
    plain = Retriever(answer_kb[0], embedder).search(question, 8)
    all_scores = reranker.scores(question, [p.text for p in plain])
    assert passages[0].score == pytest.approx(float(np.max(all_scores)))

    with pytest.raises(ConfigError, match="cannot load rerank model"):
        CrossEncoderReranker(str(tmp_path / "missing-model")).scores("q", ["t"])


def test_mmr_option_picks_the_most_similar_candidate_first(
    answer_kb: AnswerKb, embedder: SentenceTransformerEmbedder
) -> None:
    # MMR chooses among 3 * top_k fused candidates, the most similar one first.
    candidates = Retriever(answer_kb[0], embedder).search("bees honey hives", 9)
    diverse = Retriever(answer_kb[0], embedder, mmr_lambda=0.5).search("bees honey hives", 3)
    assert diverse[0].chunk_id == max(candidates, key=lambda p: p.similarity).chunk_id
    assert len({p.chunk_id for p in diverse}) == 3
    assert {p.chunk_id for p in diverse} <= {p.chunk_id for p in candidates}


class CountingStore(Store):
    """The real store, counting the reads of its state (where the generation is)."""

    state_reads = 0

    def state(self) -> IndexState:
        self.state_reads += 1
        return super().state()


def test_a_question_reads_the_store_generation_once(
    database_url: str, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    store = CountingStore(database_url)
    try:
        kb = KnowledgeBase(store, tmp_path / "vectors.faiss", embedder.model_name)
        text = "The quarry at Pellow closed in 1968 after the slate ran out."
        document = new_document("/d/q.txt", [text])
        kb.write([(document, embedder.embed_documents([text]))], embedder.dimension)
        retriever = Retriever(kb, embedder)
        scope = Scope(collection="default")
        assert retriever.search("Pellow quarry", 3, "hybrid", scope)
        store.state_reads = 0
        assert retriever.search("When did the quarry close?", 3, "hybrid", scope)
        assert store.state_reads == 1
    finally:
        store.close()
