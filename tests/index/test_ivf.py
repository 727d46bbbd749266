"""The compressed IVF vector index for large stores: trained on a sample of the stored
vectors, exact scores for its best candidates, removals, scopes, saved and reopened,
retrained when the store has grown, and chosen by size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index import KnowledgeBase, Scope, Store
from index.knowledge import IVF_MIN_VECTORS, IVF_RETRAIN_GROWTH
from index.vectors import VectorIndex
from tests.helpers.documents import new_document, unit_vectors

DIM = 16
MODEL = "test-model"
PER_DOC = 100


def unit(rows: int, seed: int = 0) -> np.ndarray:
    return unit_vectors(rows, DIM, seed)


def fill(
    kb: KnowledgeBase, documents: int, first: int = 0, collection: str = "default"
) -> dict[int, np.ndarray]:
    """`documents` documents of PER_DOC chunks with random vectors; chunk id -> vector."""
    batch = [
        (
            new_document(
                f"/{collection}/{n}.txt",
                [f"Record {n}-{p} of the ledger." for p in range(PER_DOC)],
                collection,
            ),
            unit(PER_DOC, n),
        )
        for n in range(first, first + documents)
    ]
    out: dict[int, np.ndarray] = {}
    for (_, vectors), result in zip(batch, kb.write(batch, DIM), strict=True):
        out.update(zip(result.chunk_ids, vectors, strict=True))
    kb.flush()
    return out


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


def test_an_ivf_index_finds_stored_vectors_with_exact_scores(store: Store, tmp_path: Path) -> None:
    kb = KnowledgeBase(store, tmp_path / "vectors.faiss", MODEL, "ivf")
    vectors = fill(kb, 30)
    assert kb.rebuild() == 3000
    index = kb.vectors()
    assert index is not None and index.kind == "ivf" and not index.exact
    assert index.describe()["lists"] == index.nlist and index.describe()["trained_on"] == 3000
    for chunk_id in list(vectors)[::500]:
        (best, score), *_ = kb.search_ids(vectors[chunk_id], 5)
        assert best == chunk_id and score == pytest.approx(1.0, abs=1e-5)  # re-scored exactly
    some = list(vectors)[7]
    assert np.allclose(kb.embeddings([some])[0], vectors[some], atol=1e-6)  # stored, not decoded


def test_removed_vectors_are_never_found_and_a_reopened_index_is_kept(
    store: Store, tmp_path: Path
) -> None:
    kb = KnowledgeBase(store, tmp_path / "vectors.faiss", MODEL, "ivf")
    vectors = fill(kb, 30)
    kb.rebuild()
    gone = store.list_documents("default", 1, 0)[0]
    removed = kb.delete([gone.id])
    kb.flush()
    for chunk_id in removed[:20]:
        assert chunk_id not in [i for i, _ in kb.search_ids(vectors[chunk_id], 10)]
    again = KnowledgeBase(store, tmp_path / "vectors.faiss", MODEL, "ivf")
    index = again.vectors()
    assert index is not None and index.kind == "ivf" and len(index) == 3000 - len(removed)
    assert again.last_repair is not None and not again.last_repair.rebuilt
    loaded = VectorIndex.load(tmp_path / "vectors.faiss")
    assert loaded is not None and loaded[1].trained_on == 3000


def test_a_narrow_scope_is_searched_whole(store: Store, tmp_path: Path) -> None:
    kb = KnowledgeBase(store, tmp_path / "vectors.faiss", MODEL, "ivf")
    fill(kb, 30)
    few = fill(kb, 1, first=99, collection="rare")
    kb.rebuild()
    query = unit(1, 12345)[0]
    hits = kb.search_ids(query, 10, Scope(collection="rare"))
    assert len(hits) == 10 and {i for i, _ in hits} <= set(few)
    exact = sorted(few, key=lambda i: -float(few[i] @ query))[:10]
    assert [i for i, _ in hits] == exact


def test_the_index_kind_follows_the_size(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "vectors.faiss"
    kb = KnowledgeBase(store, path, MODEL, "ivf")
    fill(kb, IVF_MIN_VECTORS // PER_DOC - 1)  # too few to train an IVF index: flat
    assert kb.vectors() is not None and kb.vectors().kind == "flat"  # type: ignore[union-attr]
    fill(kb, 3, first=500)  # saved past the minimum: rebuilt as IVF then, not at a restart
    assert kb.vectors() is not None and kb.vectors().kind == "ivf"  # type: ignore[union-attr]
    auto = KnowledgeBase(store, path, MODEL, "auto", hnsw_threshold=100, ivf_threshold=2500)
    assert auto.vectors() is not None and auto.vectors().kind == "ivf"  # type: ignore[union-attr]
    assert auto.last_repair is not None and not auto.last_repair.rebuilt
    defaults = KnowledgeBase(store, path, MODEL, "auto")  # flat up to 200,000
    assert defaults.vectors() is not None and defaults.vectors().kind == "flat"  # type: ignore[union-attr]
    assert defaults.last_repair is not None and defaults.last_repair.rebuilt


@pytest.mark.slow
def test_an_index_that_grew_a_lot_is_retrained(store: Store, tmp_path: Path) -> None:
    kb = KnowledgeBase(store, tmp_path / "vectors.faiss", MODEL, "ivf")
    fill(kb, 30)
    kb.rebuild()
    grown = int(IVF_RETRAIN_GROWTH * 3000) // PER_DOC - 30 + 1
    fill(kb, grown, first=1000)  # flushed: over the growth, so retrained on a new sample
    index = kb.vectors()
    assert index is not None and index.trained_on == (30 + grown) * PER_DOC
    assert len(index) == (30 + grown) * PER_DOC
