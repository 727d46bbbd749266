"""The knowledge base keeps FAISS in step with SQL, repairs it, and refuses mixed models."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from index import (
    KnowledgeBase,
    ModelMismatchError,
    Scope,
    SentenceTransformerEmbedder,
    Store,
    StoreError,
)
from index.vectors import VectorIndex
from tests.helpers.documents import new_document

FACTS = [
    "The Hollow Bridge in Keswick was rebuilt in 1887 after a flood.",
    "Penguins in the Antarctic huddle together to survive winter storms.",
    "A sourdough starter needs flour, water and a warm kitchen.",
    "The violin was tuned a quarter tone flat for the Baroque concert.",
]


OpenKB = Callable[[str], KnowledgeBase]


@pytest.fixture(params=["flat", "hnsw"])
def open_kb(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[OpenKB]:
    """Opens knowledge bases on the test's database and data dir, with each kind of vector
    index; closes them all after."""
    opened: list[Store] = []

    def open_one(model: str) -> KnowledgeBase:
        opened.append(Store(database_url))
        return KnowledgeBase(
            opened[-1], tmp_path / "vectors.faiss", model, vector_kind=request.param
        )

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def filled(
    open_kb: OpenKB, embedder: SentenceTransformerEmbedder
) -> tuple[KnowledgeBase, list[str]]:
    kb = open_kb(embedder.model_name)
    batch = [
        (new_document(f"/d/{i}.txt", [fact]), embedder.embed_documents([fact]))
        for i, fact in enumerate(FACTS)
    ]
    results = kb.write(batch, embedder.dimension)
    kb.flush()
    return kb, [r.document.id for r in results]


def top_text(kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, question: str) -> str:
    hits = kb.search(embedder.embed_query(question), 1)
    return hits[0].chunk.text if hits else ""


def test_search_finds_the_right_chunk_with_document(
    filled: tuple[KnowledgeBase, list[str]], embedder: SentenceTransformerEmbedder
) -> None:
    kb, _ = filled
    hits = kb.search(embedder.embed_query("how do penguins get through the cold?"), 2)
    assert hits[0].chunk.text == FACTS[1]
    assert hits[0].document.source == "/d/1.txt"
    assert hits[0].score > hits[1].score


def test_deleted_document_is_never_returned_again(
    filled: tuple[KnowledgeBase, list[str]], embedder: SentenceTransformerEmbedder, open_kb: OpenKB
) -> None:
    kb, ids = filled
    kb.delete([ids[1]])
    kb.flush()
    for k in (1, 4, 100):
        assert FACTS[1] not in [
            h.chunk.text for h in kb.search(embedder.embed_query("penguins winter"), k)
        ]
    assert kb.store.lexical_search("penguins", 5) == []
    reopened = open_kb(embedder.model_name)
    assert FACTS[1] not in [
        h.chunk.text for h in reopened.search(embedder.embed_query("penguins"), 10)
    ]


def test_collection_filter_applies_inside_the_vector_search(
    filled: tuple[KnowledgeBase, list[str]], embedder: SentenceTransformerEmbedder
) -> None:
    kb, _ = filled
    text = "Emperor penguins breed during the Antarctic winter."
    kb.write(
        [
            (
                new_document("/e/p.txt", [text], collection="birds"),
                embedder.embed_documents([text]),
            )
        ],
        embedder.dimension,
    )
    hits = kb.search(embedder.embed_query("penguins"), 10, Scope(collection="birds"))
    assert [h.chunk.text for h in hits] == [text]
    assert kb.search(embedder.embed_query("penguins"), 10, Scope(collection="nothing")) == []


def test_stale_vector_file_is_repaired_from_sql_on_open(
    filled: tuple[KnowledgeBase, list[str]],
    embedder: SentenceTransformerEmbedder,
    open_kb: OpenKB,
    tmp_path: Path,
) -> None:
    kb, ids = filled
    stale = (tmp_path / "vectors.faiss").read_bytes(), (tmp_path / "vectors.json").read_bytes()
    # SQL moves on (one document deleted, one added) while the saved vector file stays old,
    # as after a crash between the SQL commit and the vector save.
    text = "Lighthouses use Fresnel lenses to throw light far out to sea."
    kb.delete([ids[0]])
    kb.write(
        [(new_document("/d/new.txt", [text]), embedder.embed_documents([text]))], embedder.dimension
    )
    (tmp_path / "vectors.faiss").write_bytes(stale[0])
    (tmp_path / "vectors.json").write_bytes(stale[1])

    reopened = open_kb(embedder.model_name)
    vectors = reopened.vectors()

    assert vectors is not None
    assert reopened.last_repair is not None
    assert (reopened.last_repair.added, reopened.last_repair.removed) == (1, 1)
    assert set(vectors.ids()) == set(reopened.store.chunk_ids())
    assert top_text(reopened, embedder, "what focuses a lighthouse beam?") == text
    loaded = VectorIndex.load(tmp_path / "vectors.faiss")
    assert loaded is not None and set(loaded[0].ids()) == set(reopened.store.chunk_ids())


def test_a_vector_file_in_step_but_of_an_older_generation_is_not_rewritten_on_open(
    filled: tuple[KnowledgeBase, list[str]],
    embedder: SentenceTransformerEmbedder,
    open_kb: OpenKB,
    tmp_path: Path,
) -> None:
    """Another writer added a document and deleted it again: the saved file holds the right
    ids under an older generation (`filled` saved it). Rewriting it would cost ~1 s per
    million vectors."""
    saved = tmp_path / "vectors.faiss"
    stamp = saved.stat().st_mtime_ns
    other = open_kb(embedder.model_name).store
    text = "Lighthouses use Fresnel lenses to throw light far out to sea."
    [written] = other.write(
        [(new_document("/d/new.txt", [text]), embedder.embed_documents([text]))],
        embedder.model_name,
        embedder.dimension,
    )
    other.delete_documents([written.document.id])

    reopened = open_kb(embedder.model_name)
    vectors = reopened.vectors()

    assert vectors is not None and reopened.last_repair is not None
    assert (reopened.last_repair.added, reopened.last_repair.removed) == (0, 0)
    assert saved.stat().st_mtime_ns == stamp
    assert set(vectors.ids()) == set(reopened.store.chunk_ids())
    assert top_text(reopened, embedder, "how do penguins survive winter?") == FACTS[1]


class RacedStore(Store):
    """The real store, with another process's write landing just after its next chunk
    count: the moment a readiness check could mistake for a broken index."""

    race: Callable[[], None] | None = None

    def count_chunks(self) -> int:
        counted = super().count_chunks()
        race, self.race = self.race, None
        if race is not None:
            race()
        return counted


def test_out_of_step_reports_a_broken_index_and_not_a_write_in_flight(
    database_url: str, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    raced, other = RacedStore(database_url), Store(database_url)
    try:
        kb = KnowledgeBase(raced, tmp_path / "vectors.faiss", embedder.model_name)
        for i, fact in enumerate(FACTS):
            document = new_document(f"/d/{i}.txt", [fact])
            kb.write([(document, embedder.embed_documents([fact]))], embedder.dimension)
        assert kb.out_of_step() is None
        text = "Lighthouses use Fresnel lenses to throw light far out to sea."
        vector = embedder.embed_documents([text])

        def write_elsewhere() -> None:
            document = new_document("/d/new.txt", [text])
            other.write([(document, vector)], kb.model_name, embedder.dimension)

        raced.race = write_elsewhere  # lands between the count and the generation check
        assert kb.out_of_step() is None
        assert raced.race is None  # it did land
        vectors = kb.vectors()
        assert vectors is not None and len(vectors) == len(FACTS) + 1

        vectors.remove(vectors.ids()[:1])  # a real difference, at a still generation
        assert kb.out_of_step() == f"{len(FACTS)} vectors for {len(FACTS) + 1} chunks"
    finally:
        raced.close()
        other.close()


@pytest.mark.parametrize("damage", ["missing", "garbage", "folder"])
def test_missing_or_corrupt_vector_file_is_rebuilt_without_reembedding(
    filled: tuple[KnowledgeBase, list[str]],
    embedder: SentenceTransformerEmbedder,
    open_kb: OpenKB,
    tmp_path: Path,
    damage: str,
) -> None:
    kb, _ = filled
    before = {i: kb.vectors().reconstruct(i) for i in kb.store.chunk_ids()}  # type: ignore[union-attr]
    (tmp_path / "vectors.faiss").unlink()
    if damage == "garbage":
        (tmp_path / "vectors.faiss").write_bytes(b"\x00garbage" * 100)
    elif damage == "folder":
        (tmp_path / "vectors.faiss").mkdir()

    reopened = open_kb(embedder.model_name)
    vectors = reopened.vectors()

    assert vectors is not None and reopened.last_repair is not None and reopened.last_repair.rebuilt
    for chunk_id, vector in before.items():
        np.testing.assert_array_equal(vectors.reconstruct(chunk_id), vector)


@pytest.mark.parametrize("place", ["vectors.faiss", "vectors.json"])
def test_a_folder_where_a_vector_file_belongs_is_moved_aside_whole_and_rebuilt(
    filled: tuple[KnowledgeBase, list[str]],
    embedder: SentenceTransformerEmbedder,
    open_kb: OpenKB,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    place: str,
) -> None:
    kb, _ = filled
    (tmp_path / place).unlink()
    (tmp_path / place).mkdir()
    (tmp_path / place / "notes.txt").write_text("someone's notes")

    reopened = open_kb(embedder.model_name)
    with caplog.at_level(logging.WARNING, logger="index.vectors"):
        assert top_text(reopened, embedder, "how do penguins get through the cold?") == FACTS[1]

    (aside,) = tmp_path.glob(f"{place}.folder-moved-aside-*")
    assert (aside / "notes.txt").read_text() == "someone's notes"
    assert (tmp_path / place).is_file()
    loaded = VectorIndex.load(tmp_path / "vectors.faiss")
    assert loaded is not None and set(loaded[0].ids()) == set(kb.store.chunk_ids())
    warned = [r.getMessage() for r in caplog.records if "moved it aside" in r.getMessage()]
    assert len(warned) == 1 and str(tmp_path / place) in warned[0] and str(aside) in warned[0]


def test_a_folder_that_cannot_be_moved_aside_is_refused_naming_it_and_the_fix(
    filled: tuple[KnowledgeBase, list[str]], embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    kb, _ = filled
    # A name so long that no longer name fits beside it: the rename fails, even for root.
    folder = tmp_path / ("v" * 240 + ".faiss")
    folder.mkdir()
    (folder / "notes.txt").write_text("someone's notes")

    with pytest.raises(StoreError) as refused:
        KnowledgeBase(kb.store, folder, embedder.model_name).vectors()

    assert f"{folder} is a folder where the vector index file belongs" in refused.value.message
    assert f"mv {folder} {folder}.old" in refused.value.message
    assert (folder / "notes.txt").read_text() == "someone's notes"


def test_rebuild_gives_the_same_search_results(
    filled: tuple[KnowledgeBase, list[str]], embedder: SentenceTransformerEmbedder
) -> None:
    kb, _ = filled
    query = embedder.embed_query("bread baking")
    before = [(h.chunk.id, round(h.score, 5)) for h in kb.search(query, 4)]
    assert kb.rebuild() == len(FACTS)
    assert [(h.chunk.id, round(h.score, 5)) for h in kb.search(query, 4)] == before


def test_opening_with_another_model_is_refused_with_the_fix(
    filled: tuple[KnowledgeBase, list[str]], open_kb: OpenKB
) -> None:
    other = open_kb("some-org/other-model")
    with pytest.raises(ModelMismatchError) as caught:
        other.vectors()
    message = caught.value.message
    assert "sentence-transformers/all-MiniLM-L6-v2" in message and "some-org/other-model" in message
    assert "cited reindex --reembed" in message and "CITED_EMBEDDING_MODEL" in message


def test_hnsw_hides_removed_vectors_across_saves_and_compacts(
    database_url: str, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    store = Store(database_url)
    try:
        kb = KnowledgeBase(store, tmp_path / "vectors.faiss", embedder.model_name, "hnsw")
        texts = [
            f"Item number {i} is a {word} lamp."
            for i, word in enumerate(["red", "green", "blue", "teal", "amber"])
        ]
        written = kb.write(
            [
                (new_document(f"/d/{i}.txt", [t]), embedder.embed_documents([t]))
                for i, t in enumerate(texts)
            ],
            embedder.dimension,
        )
        gone = written[2].chunk_ids[0]
        kb.delete([written[2].document.id])
        kb.flush()  # 1 of 5 hidden is over the compaction share: rebuilt without it
        loaded = VectorIndex.load(tmp_path / "vectors.faiss")
        assert loaded is not None and loaded[0].kind == "hnsw" and loaded[0].hidden == 0
        assert gone not in loaded[0].ids()

        vectors = kb.vectors()
        assert vectors is not None
        vectors.remove(np.array([written[0].chunk_ids[0]]))
        assert vectors.hidden == 1 and len(vectors) == 3
        ids = vectors.search(embedder.embed_query("red lamp"), 10)[1][0]
        assert written[0].chunk_ids[0] not in ids and gone not in ids and len(set(ids) - {-1}) == 3
    finally:
        store.close()


def test_auto_index_kind_follows_the_size(
    database_url: str, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    store = Store(database_url)
    try:
        kb = KnowledgeBase(
            store, tmp_path / "vectors.faiss", embedder.model_name, "auto", hnsw_threshold=2
        )
        kb.write(
            [
                (new_document(f"/d/{i}.txt", [t]), embedder.embed_documents([t]))
                for i, t in enumerate(FACTS)
            ],
            embedder.dimension,
        )
        assert kb.rebuild() == len(FACTS)
        vectors = kb.vectors()
        assert vectors is not None and vectors.kind == "hnsw"
        small = KnowledgeBase(store, tmp_path / "vectors.faiss", embedder.model_name, "auto")
        vectors = small.vectors()
        assert vectors is not None and vectors.kind == "flat" and small.last_repair is not None
        assert small.last_repair.rebuilt
    finally:
        store.close()


def test_another_process_writes_become_searchable_without_a_reload(
    filled: tuple[KnowledgeBase, list[str]], open_kb: OpenKB, embedder: SentenceTransformerEmbedder
) -> None:
    """Two knowledge bases on one store and vector file stand for a server and a `cited
    ingest` process: what one writes or deletes, the other sees after refresh()."""
    server, ids = filled
    server.vectors()
    writer = open_kb(embedder.model_name)
    fact = "Narwhals use their long tusks to sense changes in sea water."
    [added] = writer.write(
        [(new_document("/d/narwhal.txt", [fact]), embedder.embed_documents([fact]))],
        embedder.dimension,
    )
    writer.delete([ids[1]])  # the penguins
    writer.flush()

    assert top_text(server, embedder, "narwhal tusks") != fact  # not yet refreshed
    server.refresh()
    assert top_text(server, embedder, "narwhal tusks") == fact
    assert "Penguins" not in top_text(server, embedder, "penguins huddle in storms")
    vectors = server.vectors()
    assert vectors is not None and len(vectors) == len(FACTS)
    # the server's own next write keeps the other writer's changes too
    other = "Lighthouses on the Hask coast were automated in 1975."
    server.write(
        [(new_document("/d/light.txt", [other]), embedder.embed_documents([other]))],
        embedder.dimension,
    )
    assert sorted(server.vectors().ids().tolist()) == sorted(server.store.chunk_ids().tolist())  # type: ignore[union-attr]
    assert added.chunk_ids[0] in server.vectors().ids()  # type: ignore[union-attr]


def test_searches_run_while_another_thread_writes(
    filled: tuple[KnowledgeBase, list[str]], embedder: SentenceTransformerEmbedder
) -> None:
    import threading

    kb, _ = filled
    errors: list[BaseException] = []
    stop = threading.Event()
    query = embedder.embed_query("bridge rebuilt after a flood")

    def search() -> None:
        try:
            while not stop.is_set():
                assert kb.search(query, 1)[0].chunk.text == FACTS[0]
        except BaseException as exc:  # noqa: BLE001 (a thread hands its failure to the test)
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(3)]
    for thread in threads:
        thread.start()
    texts = [f"Filler note number {i} about nothing in particular." for i in range(20)]
    vectors = embedder.embed_documents(texts)
    for i, text in enumerate(texts):
        kb.write(
            [(new_document(f"/d/filler{i}.txt", [text]), vectors[i : i + 1])], embedder.dimension
        )
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    index = kb.vectors()
    assert index is not None and len(index) == len(FACTS) + len(texts)
