"""A knowledge base reading from a PostgreSQL hot standby (CITED_DATABASE_READ_URL), with a
real standby whose replay the tests pause to hold it behind the primary: the lexical search
and the vector index follow the standby, a document deleted on the primary is never
returned however far behind it is, this process's own writes are never undone by it, a
standby that is down sends the reads to the primary, and one that is no replica of the
store is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from api.settings import Settings
from index import ConfigError, KnowledgeBase, SentenceTransformerEmbedder, Store
from index.replica import RETRY_S, ReplicaReads
from tests.api.server import free_port
from tests.conftest import POSTGRES_URL, _reset_postgres
from tests.helpers.documents import new_document
from tests.helpers.standby import forwarding, replay_paused, require_standby, wait_replayed

pytestmark = pytest.mark.postgres

BRIDGE = "The Hollow Bridge in Keswick was rebuilt in 1887 after a flood."
PENGUINS = "Penguins in the Antarctic huddle together to survive winter storms."
LAMP = "The lamp of the Quayside lighthouse was converted to electricity in 1931."
SOURDOUGH = "A sourdough starter needs flour, water and a warm kitchen."


@pytest.fixture
def standby() -> str:
    url = require_standby()
    _reset_postgres(POSTGRES_URL)
    return url


@pytest.fixture
def stores(standby: str) -> Iterator[tuple[Store, Store]]:
    """(the primary alone, as a writer on another machine; the primary with the standby)."""
    writer = Store(POSTGRES_URL)
    wait_replayed(POSTGRES_URL, standby)  # the schema, before the reader opens
    reader = Store(POSTGRES_URL, standby)
    yield writer, reader
    reader.close()
    writer.close()


@pytest.fixture
def kbs(
    stores: tuple[Store, Store], embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> tuple[KnowledgeBase, KnowledgeBase]:
    """(a writer's knowledge base on the primary, a reader's that reads the standby)."""
    return (
        KnowledgeBase(stores[0], tmp_path / "w.faiss", embedder.model_name),
        KnowledgeBase(stores[1], tmp_path / "r.faiss", embedder.model_name),
    )


def write(kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, name: str, text: str) -> str:
    [result] = kb.write(
        [(new_document(f"/d/{name}.txt", [text]), embedder.embed_documents([text]))],
        embedder.dimension,
    )
    return result.document.id


def found_texts(
    kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, question: str
) -> set[str]:
    """Texts of the chunks a question finds, by vectors and by words, joined to the store."""
    kb.refresh()
    hits = kb.search_ids(embedder.embed_query(question), 4) + kb.lexical_search(question, 4)
    return {chunk.text for chunk, _ in kb.chunks([i for i, _ in hits]).values()}


def lexical_ids(kb: KnowledgeBase, question: str) -> set[int]:
    return {i for i, _ in kb.lexical_search(question, 4)}


def test_the_reader_follows_the_standby_and_never_returns_what_the_primary_deleted(
    kbs: tuple[KnowledgeBase, KnowledgeBase],
    stores: tuple[Store, Store],
    standby: str,
    embedder: SentenceTransformerEmbedder,
) -> None:
    writer, reader = kbs
    bridge = write(writer, embedder, "bridge", BRIDGE)
    write(writer, embedder, "penguins", PENGUINS)
    wait_replayed(POSTGRES_URL, standby)
    assert BRIDGE in found_texts(reader, embedder, "When was the Hollow Bridge in Keswick rebuilt?")
    bridge_chunks = lexical_ids(reader, "Hollow Bridge Keswick")
    assert bridge_chunks

    with replay_paused(standby):
        writer.delete([bridge])
        write(writer, embedder, "lamp", LAMP)
        # The standby has not replayed either: its lexical index still has the bridge, and
        # neither finds the lamp, which shows the reads go there...
        assert lexical_ids(reader, "Hollow Bridge Keswick") == bridge_chunks
        assert not lexical_ids(reader, "Quayside lighthouse lamp electricity")
        # ...yet the deleted document is never returned: the join is on the primary.
        for question in ("When was the Hollow Bridge in Keswick rebuilt?", "Keswick flood"):
            assert BRIDGE not in found_texts(reader, embedder, question)
        assert stores[1].reads.state().generation < stores[0].state().generation

    wait_replayed(POSTGRES_URL, standby)
    assert LAMP in found_texts(reader, embedder, "When was the Quayside lamp electrified?")
    assert not lexical_ids(reader, "Hollow Bridge Keswick")
    vectors = reader.vectors()
    assert vectors is not None and len(vectors) == stores[0].count_chunks() == 2


def test_own_writes_stay_searchable_while_the_standby_is_behind(
    kbs: tuple[KnowledgeBase, KnowledgeBase],
    stores: tuple[Store, Store],
    standby: str,
    embedder: SentenceTransformerEmbedder,
) -> None:
    writer, reader = kbs
    write(writer, embedder, "penguins", PENGUINS)
    wait_replayed(POSTGRES_URL, standby)
    assert PENGUINS in found_texts(reader, embedder, "How do penguins survive winter?")

    with replay_paused(standby):
        write(reader, embedder, "lamp", LAMP)  # through the reader's own primary connection
        write(writer, embedder, "sourdough", SOURDOUGH)  # and another process's write
        for _ in range(3):  # the standby, behind both, never takes the reader's write back
            assert LAMP in found_texts(reader, embedder, "When was the Quayside lamp electrified?")
        assert SOURDOUGH not in found_texts(reader, embedder, "What does a sourdough starter need?")

    wait_replayed(POSTGRES_URL, standby)
    assert SOURDOUGH in found_texts(reader, embedder, "What does a sourdough starter need?")
    assert LAMP in found_texts(reader, embedder, "When was the Quayside lamp electrified?")


def test_a_standby_that_is_down_sends_the_reads_to_the_primary(
    standby: str,
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = "postgresql+psycopg://cited:cited@127.0.0.1:1/cited_test"
    store = Store(POSTGRES_URL, down)
    try:
        kb = KnowledgeBase(store, tmp_path / "v.faiss", embedder.model_name)
        write(kb, embedder, "penguins", PENGUINS)
        reopened = KnowledgeBase(store, tmp_path / "fresh.faiss", embedder.model_name)
        assert PENGUINS in found_texts(reopened, embedder, "How do penguins survive winter?")
        assert isinstance(store.reads, ReplicaReads)
        shown = store.reads.describe()
        assert shown["reading_from"] == "primary" and "127.0.0.1:1" in shown["url"]
        assert "refused" in shown["last_failure"]
        assert "reading from the primary" in caplog.text
    finally:
        store.close()


def test_a_standby_that_comes_back_is_used_again_after_the_retry_delay(
    kbs: tuple[KnowledgeBase, KnowledgeBase],
    stores: tuple[Store, Store],
    standby: str,
    embedder: SentenceTransformerEmbedder,
) -> None:
    writer = kbs[0]
    port = free_port()
    now = [0.0]
    reads = ReplicaReads(
        stores[0],
        Store(f"postgresql+psycopg://cited:cited@127.0.0.1:{port}/cited_test", setup=False),
        clock=lambda: now[0],
    )
    target = make_url(standby)
    lamp = "Quayside lighthouse lamp electricity"
    try:
        assert reads.describe()["reading_from"] == "primary"  # down when opened
        with forwarding(port, f"{target.host}:{target.port}"), replay_paused(standby):
            write(writer, embedder, "lamp", LAMP)  # on the primary only: the standby is paused
            assert reads.lexical_search(lamp, 4)  # within the delay: still the primary
            now[0] += RETRY_S
            assert not reads.lexical_search(lamp, 4)  # the standby again, verified, behind
            assert reads.describe()["reading_from"] == "replica"
        assert reads.lexical_search(lamp, 4)  # gone again: the primary, at once
        assert reads.describe()["reading_from"] == "primary"
    finally:
        reads.close()


def test_a_database_that_is_no_replica_of_the_store_is_refused(standby: str) -> None:
    other = POSTGRES_URL.rsplit("/", 1)[0] + "/postgres"  # same cluster, another database
    with pytest.raises(ConfigError, match="is not a replica of CITED_DATABASE_URL"):
        Store(POSTGRES_URL, other)
    with pytest.raises(ValueError, match="needs a PostgreSQL store"):
        Settings(database_read_url=standby)  # the store is SQLite
