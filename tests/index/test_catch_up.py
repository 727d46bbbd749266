"""How a knowledge base follows what other processes write: from the store's removal log
and the chunks past the highest id it holds (two indexed reads), not by reading every
chunk id; falling back to comparing every id when the log does not reach back far enough
(pruned, re-embedded, or a store older than the log), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from index import KnowledgeBase, SentenceTransformerEmbedder, StoreError
from index.schema import SCHEMA_VERSION
from index.store import Store
from tests.helpers.documents import new_document

FACTS = {
    "bridge": "The Hollow Bridge in Keswick was rebuilt in 1887 after a flood.",
    "penguins": "Penguins in the Antarctic huddle together to survive winter storms.",
    "sourdough": "A sourdough starter needs flour, water and a warm kitchen.",
    "violin": "The violin was tuned a quarter tone flat for the Baroque concert.",
}


class CountingStore(Store):
    """The real store, counting the reads of every chunk id (the full comparison)."""

    full_reads = 0

    def chunk_ids(self) -> np.ndarray:
        self.full_reads += 1
        return super().chunk_ids()


@pytest.fixture
def pair(
    database_url: str, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[tuple[KnowledgeBase, KnowledgeBase]]:
    """(a writer, as `cited ingest` or another server; a reader whose full id reads are
    counted), each with its own vector file, the reader loaded on the writer's 4 facts."""
    writer_store = Store(database_url, removal_log_generations=3)
    reader_store = CountingStore(database_url)
    writer = KnowledgeBase(writer_store, tmp_path / "w.faiss", embedder.model_name)
    reader = KnowledgeBase(reader_store, tmp_path / "r.faiss", embedder.model_name)
    for name, fact in FACTS.items():
        write(writer, embedder, name, fact)
    reader.vectors()
    yield writer, reader
    reader_store.close()
    writer_store.close()


def write(kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, name: str, fact: str) -> str:
    [result] = kb.write(
        [(new_document(f"/d/{name}.txt", [fact]), embedder.embed_documents([fact]))],
        embedder.dimension,
    )
    return result.document.id


def in_step(kb: KnowledgeBase) -> bool:
    vectors = kb.vectors()
    assert vectors is not None
    every = Store.chunk_ids(kb.store)  # not counted as the reader's own read
    no_twice = len(vectors) == len(every)  # ids() is a set: a vector added twice hides there
    return no_twice and bool(np.array_equal(vectors.ids(), np.sort(every)))


def texts(kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, question: str) -> set[str]:
    hits = kb.search(embedder.embed_query(question), 4)
    return {hit.chunk.text for hit in hits}


def test_what_another_process_writes_is_applied_without_reading_every_id(
    pair: tuple[KnowledgeBase, KnowledgeBase], embedder: SentenceTransformerEmbedder
) -> None:
    writer, reader = pair
    store = reader.store
    assert isinstance(store, CountingStore)
    before = store.full_reads
    ids = {d.source.rsplit("/", 1)[1]: d.id for d in writer.store.list_documents()}
    rebuilt = "The Hollow Bridge in Keswick was rebuilt again in 1951 in stone."
    write(writer, embedder, "bridge", rebuilt)  # replaced: old chunk removed, new one added
    writer.delete([ids["penguins.txt"]])
    write(writer, embedder, "narwhal", "Narwhals use their long tusks to sense sea water.")

    reader.refresh()
    assert in_step(reader)
    assert store.full_reads == before  # the log and the new ids were enough
    found = texts(reader, embedder, "When was the Hollow Bridge rebuilt?")
    assert rebuilt in found and FACTS["bridge"] not in found
    assert FACTS["penguins"] not in texts(reader, embedder, "penguins huddle in winter storms")

    # more of another's writes, then the reader's own and another's: still only the changes
    write(writer, embedder, "pier", "The north pier was lengthened in 1901.")
    reader.refresh()
    assert in_step(reader)
    write(reader, embedder, "lamp", "The Quayside lamp was electrified in 1931.")
    writer.delete([ids["violin.txt"]])
    reader.refresh()
    assert in_step(reader) and store.full_reads == before


def test_a_reader_behind_the_pruned_log_compares_every_id(
    pair: tuple[KnowledgeBase, KnowledgeBase], embedder: SentenceTransformerEmbedder
) -> None:
    writer, reader = pair  # the writer keeps removals for 3 writes only
    store = reader.store
    assert isinstance(store, CountingStore)
    ids = {d.source.rsplit("/", 1)[1]: d.id for d in writer.store.list_documents()}
    writer.delete([ids["penguins.txt"]])
    for n in range(4):
        write(writer, embedder, f"note-{n}", f"Ledger note {n}: the harbour took {n} ships.")
    writer.delete([ids["violin.txt"]])  # prunes the penguins' removal
    before = store.full_reads
    assert reader.generation is not None
    assert store.removed_since(reader.generation) is None
    reader.refresh()
    assert store.full_reads == before + 1 and in_step(reader)
    assert FACTS["penguins"] not in texts(reader, embedder, "penguins huddle in winter storms")


def test_a_write_by_an_older_cited_sends_readers_to_the_full_comparison(
    pair: tuple[KnowledgeBase, KnowledgeBase], embedder: SentenceTransformerEmbedder
) -> None:
    """During an upgrade an older server still running deletes a document without logging
    the removal (only opening the store refuses it); a newer reader must still drop it."""
    writer, reader = pair
    store = reader.store
    assert isinstance(store, CountingStore)
    ids = {d.source.rsplit("/", 1)[1]: d.id for d in writer.store.list_documents()}
    with writer.store.engine.begin() as conn:  # what cited before the removal log did
        conn.execute(text("UPDATE index_state SET generation = generation + 1"))
        conn.execute(text("DELETE FROM chunks WHERE document_id = :d"), {"d": ids["violin.txt"]})
        conn.execute(text("DELETE FROM documents WHERE id = :d"), {"d": ids["violin.txt"]})
    write(writer, embedder, "pier", "The north pier was lengthened in 1901.")  # a logged one
    before = store.full_reads

    reader.refresh()
    assert store.full_reads == before + 1 and in_step(reader)
    assert FACTS["violin"] not in texts(reader, embedder, "a violin tuned for a Baroque concert")
    writer.delete([ids["penguins.txt"]])  # logged again from here: back to the log alone
    reader.refresh()
    assert store.full_reads == before + 1 and in_step(reader)


def test_re_embedding_sends_readers_to_the_full_comparison(
    pair: tuple[KnowledgeBase, KnowledgeBase], embedder: SentenceTransformerEmbedder
) -> None:
    writer, reader = pair
    generation = reader.generation
    assert generation is not None and reader.store.removed_since(generation) is not None
    writer.store.reembed(embedder.model_name, embedder.dimension, embedder.embed_documents)
    assert reader.store.removed_since(generation) is None  # same ids, new vectors


def test_an_older_store_gets_the_log_and_an_older_cited_is_refused(
    database_url: str, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    store = Store(database_url)
    kb = KnowledgeBase(store, tmp_path / "v.faiss", embedder.model_name)
    for name, fact in FACTS.items():
        write(kb, embedder, name, fact)
    with store.engine.begin() as conn:  # as cited before the removal log made it
        conn.execute(text("DROP TABLE chunk_removals"))
        conn.execute(text("DROP TABLE removal_log"))
        conn.execute(text("UPDATE index_state SET schema_version = 1"))
    generation = store.state().generation
    store.close()

    reopened = Store(database_url)
    try:
        with reopened.engine.connect() as conn:
            version = conn.execute(text("SELECT schema_version FROM index_state")).scalar()
        assert version == SCHEMA_VERSION
        assert reopened.removed_since(generation - 1) is None  # unknown before the upgrade
        assert reopened.removed_since(generation) is not None
        with reopened.engine.begin() as conn:  # a newer cited's store, opened by this one
            conn.execute(text(f"UPDATE index_state SET schema_version = {SCHEMA_VERSION + 1}"))
        with pytest.raises(StoreError, match="newer than this cited"):
            Store(database_url)
    finally:
        reopened.close()
