"""Contract of the SQL store, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import text

from index import (
    ConflictError,
    ModelMismatchError,
    NotFoundError,
    Scope,
    Store,
)
from tests.helpers.documents import new_document, unit_vectors

DIM = 8


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return unit_vectors(n, DIM, seed)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


def test_write_then_read_back_exact_text_offsets_and_embeddings(store: Store) -> None:
    doc = new_document("/docs/a.txt", ["Alpha beta gamma.", "Delta epsilon zeta eta."])
    embeddings = vectors(2)
    [result] = store.write([(doc, embeddings)], "model-x", DIM)

    assert result.status == "added"
    stored = store.get_document(result.document.id)
    assert (stored.source, stored.n_chunks, stored.n_chars) == ("/docs/a.txt", 2, len(doc.text))
    text = store.document_text(stored.id)
    assert text == doc.text
    chunks = store.document_chunks(stored.id)
    assert (
        [text[c.start : c.end] for c in chunks]
        == [c.text for c in chunks]
        == [
            "Alpha beta gamma.",
            "Delta epsilon zeta eta.",
        ]
    )
    [(ids, matrix)] = list(store.iter_embeddings(DIM))
    assert list(ids) == list(result.chunk_ids)
    np.testing.assert_array_equal(matrix, embeddings)
    assert store.state().model == "model-x" and store.state().dimension == DIM


def test_document_lengths_are_kept_and_an_older_store_gets_them(database_url: str) -> None:
    """Characters, not bytes; kept at write (a search joins them without reading the text),
    added to a store from before, and read from the text in rows an older cited writes."""
    doc = new_document("/docs/ü.txt", ["Ünïcode — one character each.", "Naïve café."])
    store = Store(database_url)
    [written] = store.write([(doc, vectors(2))], "m", DIM)
    chunk_id = written.chunk_ids[0]
    assert store.get_document(written.document.id).n_chars == len(doc.text) < len(doc.text.encode())
    with store.engine.begin() as conn:  # as cited before the column
        conn.execute(text("DROP INDEX ix_documents_unmeasured"))
        conn.execute(text("ALTER TABLE documents DROP COLUMN n_chars"))
    store.close()

    reopened = Store(database_url)
    try:
        with reopened.engine.begin() as conn:
            assert conn.execute(text("SELECT n_chars FROM documents")).scalar() == len(doc.text)
            conn.execute(text("UPDATE documents SET n_chars = NULL"))  # an older writer's row
        assert reopened.get_document(written.document.id).n_chars == len(doc.text)
        assert [d.n_chars for d in reopened.list_documents()] == [len(doc.text)]
        [(_, joined)] = reopened.chunks_with_documents([chunk_id]).values()
        assert joined.n_chars == len(doc.text)
    finally:
        reopened.close()
    again = Store(database_url)  # the next open fills that row
    try:
        with again.engine.connect() as conn:
            assert conn.execute(text("SELECT n_chars FROM documents")).scalar() == len(doc.text)
    finally:
        again.close()


def test_rewrite_replaces_chunks_keeps_id_and_never_reuses_chunk_ids(store: Store) -> None:
    [first] = store.write([(new_document("/d/a.txt", ["one", "two"]), vectors(2))], "m", DIM)
    [second] = store.write([(new_document("/d/a.txt", ["three"]), vectors(1, 1))], "m", DIM)

    assert second.status == "updated"
    assert second.document.id == first.document.id
    assert set(second.removed_chunk_ids) == set(first.chunk_ids)
    assert min(second.chunk_ids) > max(first.chunk_ids)
    assert [c.text for c in store.document_chunks(first.document.id)] == ["three"]
    # Deleting the newest chunk and writing again must not hand its id out again.
    store.delete_documents([first.document.id])
    [third] = store.write([(new_document("/d/b.txt", ["four"]), vectors(1, 2))], "m", DIM)
    assert min(third.chunk_ids) > max(second.chunk_ids)


def test_delete_removes_document_chunks_and_lexical_entries(store: Store) -> None:
    [kept, gone] = store.write(
        [
            (new_document("/d/keep.txt", ["Otters hold hands while sleeping."]), vectors(1)),
            (new_document("/d/gone.txt", ["Narwhal tusks are teeth."]), vectors(1, 1)),
        ],
        "m",
        DIM,
    )
    assert [cid for cid, _ in store.lexical_search("narwhal tusks", 5)] == list(gone.chunk_ids)

    removed = store.delete_documents([gone.document.id])

    assert removed == list(gone.chunk_ids)
    assert store.lexical_search("narwhal tusks", 5) == []
    assert store.chunks_with_documents(list(gone.chunk_ids)) == {}
    with pytest.raises(NotFoundError, match="cited docs list"):
        store.get_document(gone.document.id)
    assert [d.id for d in store.list_documents()] == [kept.document.id]
    assert set(store.chunk_ids()) == set(kept.chunk_ids)


def test_delete_unknown_id_deletes_nothing(store: Store) -> None:
    [result] = store.write([(new_document("/d/a.txt", ["text"]), vectors(1))], "m", DIM)
    with pytest.raises(NotFoundError, match="nope"):
        store.delete_documents([result.document.id, "nope"])
    assert store.count_documents() == 1


def test_lexical_search_ranks_matches_and_survives_query_syntax(store: Store) -> None:
    store.write(
        [
            (
                new_document("/d/a.txt", ["The quick brown fox jumps over the lazy dog."]),
                vectors(1),
            ),
            (
                new_document("/d/b.txt", ["Foxes are omnivorous mammals of the dog family."]),
                vectors(1, 1),
            ),
            (new_document("/d/c.txt", ["Nothing relevant lives here."]), vectors(1, 2)),
        ],
        "m",
        DIM,
    )
    hits = store.lexical_search("quick brown fox", 10)
    texts = store.chunks_with_documents([cid for cid, _ in hits])
    assert texts[hits[0][0]][0].text.startswith("The quick brown fox")
    assert all(score_a >= score_b for (_, score_a), (_, score_b) in itertools.pairwise(hits))
    # FTS syntax and punctuation in a question are data, never operators.
    for hostile in [
        'fox" OR "x',
        "fox AND NOT(",
        "NEAR(fox dog)",
        "*",
        "'; DROP TABLE chunks; --",
        "",
    ]:
        store.lexical_search(hostile, 5)
    assert store.count_chunks() == 3


def test_a_rare_term_counts_more_than_a_common_one(store: Store) -> None:
    """BM25 on both stores (FTS5's bm25(); PostgreSQL's from the term statistics it keeps):
    a chunk matching the question's rare word outranks one matching only its common word,
    which PostgreSQL's ts_rank_cd, blind to rarity, scores alike."""
    common = [f"The leave policy, part {n}, covers staff in office {n}." for n in range(12)]
    store.write(
        [
            (new_document("/d/common.txt", common), vectors(len(common))),
            (new_document("/d/rare.txt", ["Narwhal sightings are logged weekly."]), vectors(1, 1)),
        ],
        "m",
        DIM,
    )
    hits = store.lexical_search("narwhal policy", 13)
    texts = store.chunks_with_documents([cid for cid, _ in hits])
    assert texts[hits[0][0]][0].text.startswith("Narwhal"), [texts[c][0].text for c, _ in hits]
    assert hits[0][1] > hits[1][1]
    assert len(hits) == 13


def test_collections_are_separate(store: Store) -> None:
    store.write([(new_document("/d/a.txt", ["shared words here"], "red"), vectors(1))], "m", DIM)
    store.write(
        [(new_document("/d/a.txt", ["shared words here"], "blue"), vectors(1, 1))], "m", DIM
    )

    assert store.collections() == ["blue", "red"]
    assert store.count_documents("red") == store.count_documents("blue") == 1
    assert len(store.lexical_search("shared words", 5, Scope(collection="red"))) == 1
    assert store.lexical_search("shared words", 5, Scope(collection="missing")) == []
    assert set(store.known_documents("red")) == {"/d/a.txt"}


def test_scopes_narrow_lexical_search_and_chunk_ids_alike(store: Store) -> None:
    sources = ["/srv/hr/leave.txt", "/srv/hr_old/leave.txt", "/srv/h%/x.txt", "/srv/it/vpn.txt"]
    results = store.write(
        [
            (new_document(source, [f"leave policy number {i}"]), vectors(1, i))
            for i, source in enumerate(sources)
        ],
        "m",
        DIM,
    )
    by_source = {r.document.source: r for r in results}

    def lexical(scope: Scope) -> set[int]:
        return {chunk_id for chunk_id, _ in store.lexical_search("leave policy", 10, scope)}

    def chunk_ids(scope: Scope) -> set[int]:
        return set(store.scope_chunk_ids(scope).tolist())

    def ids(*chosen: str) -> set[int]:
        return {c for source in chosen for c in by_source[source].chunk_ids}

    hr = Scope(source_prefix="/srv/hr/")
    assert lexical(hr) == chunk_ids(hr) == ids("/srv/hr/leave.txt")
    # % and _ are literal characters of a path, not patterns
    assert lexical(Scope(source_prefix="/srv/h%")) == ids("/srv/h%/x.txt")
    assert chunk_ids(Scope(source_prefix="/srv/h_")) == set()
    two = Scope(
        document_ids=(
            by_source["/srv/it/vpn.txt"].document.id,
            by_source["/srv/h%/x.txt"].document.id,
        )
    )
    assert chunk_ids(two) == ids("/srv/it/vpn.txt", "/srv/h%/x.txt")
    assert lexical(
        Scope(collection="default", document_ids=two.document_ids, source_prefix="/srv/it")
    ) == ids("/srv/it/vpn.txt")
    assert chunk_ids(Scope()) == ids(*sources)


def test_another_embedding_model_is_refused_with_the_fix(store: Store) -> None:
    store.write([(new_document("/d/a.txt", ["x"]), vectors(1))], "model-a", DIM)
    with pytest.raises(ModelMismatchError, match="cited reindex --reembed"):
        store.write([(new_document("/d/b.txt", ["y"]), vectors(1))], "model-b", DIM)
    assert store.count_documents() == 1


def test_every_write_bumps_the_generation(store: Store) -> None:
    start = store.state().generation
    [result] = store.write([(new_document("/d/a.txt", ["x"]), vectors(1))], "m", DIM)
    assert store.state().generation == start + 1
    store.delete_documents([result.document.id])
    assert store.state().generation == start + 2


def test_a_failed_write_leaves_nothing_behind(store: Store) -> None:
    good = new_document("/d/good.txt", ["fine"])
    bad = new_document("/d/bad.txt", ["two", "chunks"])
    with pytest.raises(ValueError, match="embeddings"):
        store.write([(good, vectors(1)), (bad, vectors(1))], "m", DIM)  # one vector short
    assert store.count_documents() == 0
    assert store.count_chunks() == 0
    assert store.lexical_search("fine", 5) == []


def test_collections_are_created_counted_and_deleted_whole(store: Store) -> None:
    red = store.write(
        [
            (new_document("/d/a.txt", ["alpha words", "more alpha"], "red"), vectors(2)),
            (new_document("/d/b.txt", ["beta words"], "red"), vectors(1, 2)),
        ],
        "m",
        DIM,
    )
    store.write([(new_document("/d/a.txt", ["gamma words"], "blue"), vectors(1, 3))], "m", DIM)
    store.create_collection("empty")
    with pytest.raises(ConflictError, match="exists already"):
        store.create_collection("empty")
    counts = {c.name: (c.documents, c.chunks) for c in store.collection_infos()}
    assert counts == {"blue": (1, 1), "empty": (0, 0), "red": (2, 3)}

    generation = store.state().generation
    documents, removed = store.delete_collection("red")
    assert documents == 2
    assert sorted(removed) == sorted(c for r in red for c in r.chunk_ids)
    assert store.state().generation == generation + 1
    assert store.collections() == ["blue", "empty"]
    assert store.lexical_search("alpha beta", 5) == []
    assert [c.name for c in store.collection_infos()] == ["blue", "empty"]
    with pytest.raises(NotFoundError, match="no collection named 'red'"):
        store.delete_collection("red")


def test_a_set_of_collections_limits_every_reader(store: Store) -> None:
    for n, name in enumerate(["hr", "legal", "it"]):
        store.write(
            [(new_document(f"/d/{name}.txt", [f"policy text {name}"], name), vectors(1, n))],
            "m",
            DIM,
        )
    allowed = Scope(collections=frozenset({"hr", "legal"}))
    hits = store.chunks_with_documents([c for c, _ in store.lexical_search("policy", 10, allowed)])
    assert {d.collection for _, d in hits.values()} == {"hr", "legal"}
    assert len(store.scope_chunk_ids(allowed)) == 2
    # a named collection outside the set gives nothing, inside it narrows to it
    assert store.lexical_search("policy", 10, Scope("it", collections=frozenset({"hr"}))) == []
    assert len(store.lexical_search("policy", 10, Scope("hr", collections=frozenset({"hr"})))) == 1
    assert store.count_documents(collections={"hr", "it"}) == 2
    assert {d.collection for d in store.list_documents(collections={"legal"})} == {"legal"}
