"""The SQL store: the source of truth for collections, documents, chunks, their embeddings
and the index state. SQLite (default) and PostgreSQL behave the same; tests run on both.

Not done here: vector search (index.vectors, derived from this store) and deciding what to
ingest (ingest/). Every write is one transaction that also bumps `index_state.generation`,
so readers in other processes can tell that something changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import (
    Connection,
    Select,
    delete,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from index import lexical, writing
from index.engine import make_engine
from index.errors import (
    CitedError,
    ConflictError,
    ModelMismatchError,
    NotFoundError,
    RejectedError,
    StoreError,
)
from index.names import check_collection_name
from index.replica import Reads, ReplicaReads
from index.schema import (
    DOCUMENT_CHARS,
    DOCUMENT_COLUMNS,
    SCHEMA_VERSION,
    Base,
    ChunkRemovalRow,
    ChunkRow,
    CollectionRow,
    DocumentRow,
    IndexStateRow,
    LoggedWriteRow,
    RemovalLogRow,
    document_from,
    document_of,
    embedding_blobs,
    embedding_matrix,
    utcnow,
)
from index.types import (
    Chunk,
    CollectionInfo,
    Document,
    IndexState,
    KnownDocument,
    NewDocument,
    Scope,
)
from index.writing import WriteResult

log = logging.getLogger(__name__)

# Advisory lock keys ("cite", 2) under which a PostgreSQL store's schema is set up: servers
# starting together on a new database would otherwise race to create the same tables.
SCHEMA_LOCK = (0x63697465, 2)
# Removals are logged for this many writes back; a reader further behind (a server idle
# that long) compares every chunk id once instead.
REMOVAL_LOG_GENERATIONS = 10_000


def _in_collections(
    query: Select[Any], collection: str | None, collections: Collection[str] | None
) -> Select[Any]:
    """`query` (joined to collections) limited to `collection` and to `collections`."""
    if collection is not None:
        query = query.where(CollectionRow.name == collection)
    if collections is not None:
        query = query.where(CollectionRow.name.in_(sorted(collections)))
    return query


def _chunk(row: ChunkRow) -> Chunk:
    return Chunk(
        id=row.id,
        document_id=row.document_id,
        ordinal=row.ordinal,
        start=row.start,
        end=row.end,
        text=row.text,
        n_tokens=row.n_tokens,
        page=row.page,
        section=row.section,
    )


def _measure_documents(conn: Connection) -> None:
    """documents.n_chars: added to a store from before it, and filled wherever it is NULL
    (every row of such a store, once: each text is read; rows an older cited still running
    writes, at the next open; they read length(text) meanwhile). A partial index finds
    those rows, so an open with none left pays nothing."""
    if not any(column["name"] == "n_chars" for column in inspect(conn).get_columns("documents")):
        log.info("adding each document's length to the store (once: every text is read)")
        conn.execute(text("ALTER TABLE documents ADD COLUMN n_chars BIGINT"))
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_documents_unmeasured ON documents (id) "
            "WHERE n_chars IS NULL"
        )
    )
    conn.execute(text("UPDATE documents SET n_chars = length(text) WHERE n_chars IS NULL"))


class Store:
    """SQL access for the knowledge base. Thread-safe: each call uses its own session.

    `read_url`: a hot standby of this PostgreSQL database; `reads` then sends the heavy
    per-question reads there (index.replica says which, and why that is consistent).
    `setup=False` opens a database without creating or checking the schema (a standby is
    read-only: it has the primary's)."""

    replica = False  # as a `Reads`: this store's own reads are never behind it

    def __init__(
        self,
        url: str,
        read_url: str | None = None,
        setup: bool = True,
        removal_log_generations: int = REMOVAL_LOG_GENERATIONS,
    ) -> None:
        self.url = url
        self.removal_log_generations = removal_log_generations
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if setup:
            try:
                self._setup()
            except CitedError:
                self.engine.dispose()  # no pooled connection outlives a refused store
                raise
        self.reads: Reads = self
        if read_url is not None:
            standby = Store(read_url, setup=False)
            try:
                self.reads = ReplicaReads(self, standby)
            except CitedError:
                standby.close()
                self.engine.dispose()
                raise

    def _setup(self) -> None:
        """Create what is missing (tables, lexical index, the state rows) and upgrade an
        older store's schema, in one transaction (PostgreSQL: under a lock, for servers
        starting together)."""
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:a, :b)"),
                        {"a": SCHEMA_LOCK[0], "b": SCHEMA_LOCK[1]},
                    )
                Base.metadata.create_all(conn)
                _measure_documents(conn)
                lexical.install(conn)
                state = conn.execute(
                    select(IndexStateRow.schema_version, IndexStateRow.generation).where(
                        IndexStateRow.id == 1
                    )
                ).first()
                if state is None:
                    conn.execute(
                        insert(IndexStateRow).values(
                            id=1, schema_version=SCHEMA_VERSION, generation=0
                        )
                    )
                elif state.schema_version > SCHEMA_VERSION:
                    raise StoreError(
                        f"the store at {self.display_url} has schema version {state.schema_version}, "
                        f"newer than this cited ({SCHEMA_VERSION}); upgrade cited"
                    )
                elif state.schema_version < SCHEMA_VERSION:  # older cited now refuse it
                    conn.execute(
                        update(IndexStateRow)
                        .where(IndexStateRow.id == 1)
                        .values(schema_version=SCHEMA_VERSION)
                    )
                if conn.execute(select(RemovalLogRow.id)).first() is None:
                    # complete from now on: removals before this store had the log are unknown
                    kept_after = 0 if state is None else state.generation
                    conn.execute(insert(RemovalLogRow).values(id=1, kept_after=kept_after))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the store at {self.display_url}: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A session in one transaction; database failures become StoreError (nothing of the
        transaction is kept)."""
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise StoreError(
                f"the database at {self.display_url} failed during a write, which was rolled back "
                f"({str(exc.orig).strip().splitlines()[0] if exc.orig else exc}); check that it is "
                "reachable and has space, then run the command again"
            ) from exc
        except DataError as exc:
            raise RejectedError(
                f"the database refused a value ({str(exc.orig).strip().splitlines()[0] if exc.orig else exc})"
            ) from exc

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        if isinstance(self.reads, ReplicaReads):
            self.reads.close()
        self.engine.dispose()

    # -- state ---------------------------------------------------------------------------

    def state(self) -> IndexState:
        with self._sessions() as session:
            row = session.get(IndexStateRow, 1)
            if row is None:  # a standby that has not replayed the store's creation yet
                raise StoreError(f"the store at {self.display_url} is not set up yet")
            return IndexState(model=row.model, dimension=row.dimension, generation=row.generation)

    def _next_generation(self, session: Session) -> IndexStateRow:
        """The state row, locked until commit (writers take it first, so they commit, and
        allocate chunk ids, one after the other), its generation bumped and logged; the log
        forgets the writes older than `removal_log_generations` (a reader that far behind
        reads every chunk id instead)."""
        row = session.get(IndexStateRow, 1, with_for_update=True)
        assert row is not None
        row.generation += 1
        row.updated_at = utcnow()
        session.add(LoggedWriteRow(generation=row.generation))
        horizon = row.generation - self.removal_log_generations
        if horizon > 0:
            for table in (ChunkRemovalRow, LoggedWriteRow):
                session.execute(delete(table).where(table.generation <= horizon))
            session.execute(
                update(RemovalLogRow)
                .where(RemovalLogRow.id == 1, RemovalLogRow.kept_after < horizon)
                .values(kept_after=horizon)
            )
        return row

    def _claim_model(self, session: Session, model: str, dimension: int) -> int:
        """Record the model of a first write, refuse another one; the write's generation."""
        row = self._next_generation(session)
        if row.model is None:
            row.model, row.dimension = model, dimension
        elif row.model != model or row.dimension != dimension:
            raise ModelMismatchError(mismatch_message(row.model, row.dimension, model, dimension))
        return row.generation

    @staticmethod
    def _log_removals(session: Session, generation: int, document_ids: Sequence[str]) -> None:
        """Record the chunks of these documents as removed by the write of `generation`
        (before they are deleted: copied inside the database, not sent back and forth)."""
        if not document_ids:
            return
        session.execute(
            insert(ChunkRemovalRow).from_select(
                ["generation", "chunk_id"],
                select(literal(generation), ChunkRow.id).where(
                    ChunkRow.document_id.in_(document_ids)
                ),
            )
        )

    # -- collections ---------------------------------------------------------------------

    def collections(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(CollectionRow.name).order_by(CollectionRow.name)))

    def collection_infos(self) -> list[CollectionInfo]:
        """Every collection with its document and chunk counts, by name."""
        with self._sessions() as session:
            documents = (
                select(DocumentRow.collection_id, func.count(DocumentRow.id).label("n"))
                .group_by(DocumentRow.collection_id)
                .subquery()
            )
            chunks = (
                select(DocumentRow.collection_id, func.count(ChunkRow.id).label("n"))
                .join(ChunkRow, ChunkRow.document_id == DocumentRow.id)
                .group_by(DocumentRow.collection_id)
                .subquery()
            )
            rows = session.execute(
                select(
                    CollectionRow.name,
                    func.coalesce(documents.c.n, 0),
                    func.coalesce(chunks.c.n, 0),
                    CollectionRow.created_at,
                )
                .outerjoin(documents, documents.c.collection_id == CollectionRow.id)
                .outerjoin(chunks, chunks.c.collection_id == CollectionRow.id)
                .order_by(CollectionRow.name)
            )
            return [CollectionInfo(name, int(d), int(c), at) for name, d, c, at in rows]

    def collection_id(self, name: str) -> int:
        """The id of collection `name`; NotFoundError when there is none."""
        with self._sessions() as session:
            found = self._collection_id(session, name, create=False)
        if found is None:
            raise NotFoundError(f"no collection named {name!r}; GET /v1/collections lists them")
        return found

    def ensure_collection(self, name: str) -> int:
        """The id of collection `name`, created when missing."""
        with self._transaction() as session:
            found = self._collection_id(session, name, create=True)
            assert found is not None
            return found

    def create_collection(self, name: str) -> None:
        """Create an empty collection; ConflictError when it exists."""
        with self._transaction() as session:
            if self._collection_id(session, name, create=False) is not None:
                raise ConflictError(f"collection {name!r} exists already")
            self._collection_id(session, name, create=True)

    def delete_collection(self, name: str) -> tuple[int, list[int]]:
        """Delete a collection, its documents and their chunks in one transaction;
        (documents deleted, removed chunk ids)."""
        with self._transaction() as session:
            collection_id = self._collection_id(session, name, create=False)
            if collection_id is None:
                raise NotFoundError(f"no collection named {name!r}; GET /v1/collections lists them")
            documents = list(
                session.scalars(
                    select(DocumentRow.id).where(DocumentRow.collection_id == collection_id)
                )
            )
            removed = self._delete_documents(session, documents)
            session.execute(delete(CollectionRow).where(CollectionRow.id == collection_id))
            return len(documents), removed

    def _collection_id(self, session: Session, name: str, create: bool) -> int | None:
        found = session.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
        if found is None and create:
            check_collection_name(name)
            row = CollectionRow(name=name)
            session.add(row)
            session.flush()
            return row.id
        return found

    # -- documents -----------------------------------------------------------------------

    def known_documents(self, collection: str) -> dict[str, KnownDocument]:
        """source -> (id, content hash) for every document of `collection`."""
        with self._sessions() as session:
            rows = session.execute(
                select(DocumentRow.source, DocumentRow.id, DocumentRow.content_hash)
                .join(CollectionRow)
                .where(CollectionRow.name == collection)
            )
            return {source: KnownDocument(doc_id, digest) for source, doc_id, digest in rows}

    def count_documents(
        self, collection: str | None = None, collections: Collection[str] | None = None
    ) -> int:
        """Documents in `collection` (None = all), among `collections` (None = all)."""
        with self._sessions() as session:
            query = select(func.count(DocumentRow.id))
            if collection is not None or collections is not None:
                query = _in_collections(query.join(CollectionRow), collection, collections)
            return int(session.scalar(query) or 0)

    def list_documents(
        self,
        collection: str | None = None,
        limit: int = 1000,
        offset: int = 0,
        collections: Collection[str] | None = None,
    ) -> list[Document]:
        """By collection and source; `collections` limits them as in count_documents."""
        with self._sessions() as session:
            query = select(DocumentRow, DOCUMENT_CHARS).join(CollectionRow)
            query = _in_collections(query, collection, collections)
            query = (
                query.order_by(CollectionRow.name, DocumentRow.source).limit(limit).offset(offset)
            )
            return [document_of(row, n) for row, n in session.execute(query)]

    def get_document(self, document_id: str) -> Document:
        with self._sessions() as session:
            found = session.execute(
                select(DocumentRow, DOCUMENT_CHARS).where(DocumentRow.id == document_id)
            ).first()
            if found is None:
                raise NotFoundError(
                    f"no document with id {document_id!r}; `cited docs list` shows them"
                )
            return document_of(found[0], found[1])

    def document_text(self, document_id: str) -> str:
        with self._sessions() as session:
            found = session.scalar(select(DocumentRow.text).where(DocumentRow.id == document_id))
            if found is None:
                raise NotFoundError(
                    f"no document with id {document_id!r}; `cited docs list` shows them"
                )
            return found

    def document_chunks(self, document_id: str) -> list[Chunk]:
        with self._sessions() as session:
            rows = session.scalars(
                select(ChunkRow)
                .where(ChunkRow.document_id == document_id)
                .order_by(ChunkRow.ordinal)
            )
            return [_chunk(row) for row in rows]

    def write(
        self, batch: Sequence[tuple[NewDocument, np.ndarray]], model: str, dimension: int
    ) -> list[WriteResult]:
        """Add or replace documents (by collection and source) with their chunks and chunk
        embeddings (one row per chunk), all in one transaction (index/writing.py: the steps).

        Set-based: a handful of statements per batch, not per document, because ingestion
        writes thousands of small documents and per-row ORM work showed up in bench/ingest.py.
        """
        writing.check_batch(batch, dimension)
        if not batch:
            return []
        now = utcnow()
        with self._transaction() as session:
            generation = self._claim_model(session, model, dimension)
            collection_ids = {
                name: self._collection_id(session, name, create=True)
                for name in {new.collection for new, _ in batch}
            }
            existing = writing.existing_documents(session, batch, collection_ids)
            replaced = [doc_id for doc_id, _ in existing.values()]
            self._log_removals(session, generation, replaced)
            removed = writing.drop_chunks(session, replaced)
            documents = writing.upsert_documents(session, batch, existing, collection_ids, now)
            chunk_ids = writing.insert_chunks(session, documents, batch)
        return writing.results(documents, existing, removed, chunk_ids)

    def delete_documents(self, document_ids: Sequence[str]) -> list[int]:
        """Delete documents and their chunks in one transaction; returns the removed chunk ids.
        Raises NotFoundError (and deletes nothing) if any id is unknown."""
        if not document_ids:
            return []
        with self._transaction() as session:
            found = set(
                session.scalars(select(DocumentRow.id).where(DocumentRow.id.in_(document_ids)))
            )
            missing = [doc_id for doc_id in document_ids if doc_id not in found]
            if missing:
                raise NotFoundError(
                    f"no document with id {', '.join(map(repr, missing))}; `cited docs list` shows them"
                )
            return self._delete_documents(session, document_ids)

    def _delete_documents(self, session: Session, document_ids: Sequence[str]) -> list[int]:
        generation = self._next_generation(session).generation
        removed = list(
            session.scalars(select(ChunkRow.id).where(ChunkRow.document_id.in_(document_ids)))
        )
        self._log_removals(session, generation, document_ids)
        session.execute(delete(ChunkRow).where(ChunkRow.document_id.in_(document_ids)))
        session.execute(delete(DocumentRow).where(DocumentRow.id.in_(document_ids)))
        return removed

    # -- chunks --------------------------------------------------------------------------

    def chunk_ids(self) -> np.ndarray:
        with self._sessions() as session:
            return np.fromiter(session.scalars(select(ChunkRow.id)), dtype=np.int64)

    def scope_chunk_ids(self, scope: Scope) -> np.ndarray:
        """Ids of the chunks inside `scope`, ascending."""
        with self._sessions() as session:
            collection_ids = self._scope_collection_ids(session, scope)
            if collection_ids == []:
                return np.zeros(0, dtype=np.int64)
            where, params = lexical.scope_sql(
                collection_ids, scope.document_ids, scope.source_prefix
            )
            sql = (
                "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE 1 = 1" + where + " ORDER BY c.id"
            )
            rows = session.execute(text(sql), params)
            return np.fromiter((row[0] for row in rows), dtype=np.int64)

    def removed_since(self, generation: int) -> np.ndarray | None:
        """Ids of the chunks removed by the writes after `generation`, ascending; None when
        the log no longer reaches back that far (then compare every chunk id)."""
        current = select(IndexStateRow.generation).where(IndexStateRow.id == 1)
        logged = select(func.count()).where(
            LoggedWriteRow.generation > generation,
            LoggedWriteRow.generation <= current.scalar_subquery(),
        )
        with self._sessions() as session:
            # One statement, so one snapshot: every write up to `current` has committed
            # (a write bumps it and logs itself in one transaction), and the count is exact.
            # One short: an older cited wrote without logging its removals.
            row = session.execute(
                select(
                    RemovalLogRow.kept_after, current.scalar_subquery(), logged.scalar_subquery()
                )
            ).first()
            if row is None:
                return None
            kept_after, now, count = row
            if now is None or generation < kept_after or count != now - generation:
                return None
            ids = session.scalars(
                select(ChunkRemovalRow.chunk_id)
                .where(ChunkRemovalRow.generation > generation)
                .order_by(ChunkRemovalRow.chunk_id)
            )
            return np.fromiter(ids, dtype=np.int64)

    def count_chunks(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count(ChunkRow.id))) or 0)

    def chunks_with_documents(self, chunk_ids: Sequence[int]) -> dict[int, tuple[Chunk, Document]]:
        """chunk id -> (chunk, its document) for the ids that exist. One query of plain
        columns (no ORM objects, no lazy loads): this is on every search's path."""
        if not chunk_ids:
            return {}
        c, d = ChunkRow, DocumentRow
        query = (
            select(
                c.id,
                c.document_id,
                c.ordinal,
                c.start,
                c.end,
                c.text,
                c.n_tokens,
                c.page,
                c.section,
                *(getattr(d, name) for name in DOCUMENT_COLUMNS),
                DOCUMENT_CHARS,
                CollectionRow.name,
            )
            .join(d, d.id == c.document_id)
            .join(CollectionRow, CollectionRow.id == d.collection_id)
            .where(c.id.in_(list(chunk_ids)))
        )
        found: dict[int, tuple[Chunk, Document]] = {}
        documents: dict[str, Document] = {}
        after = 9 + len(DOCUMENT_COLUMNS)
        with self._sessions() as session:
            for row in session.execute(query):
                document = documents.get(row[1])
                if document is None:
                    values = dict(zip(DOCUMENT_COLUMNS, row[9:after], strict=True))
                    document = documents[row[1]] = document_from(
                        values, collection=row[after + 1], n_chars=row[after]
                    )
                found[row[0]] = (Chunk(*row[:9]), document)
        return found

    def iter_embeddings(
        self,
        dimension: int,
        ids: Sequence[int] | None = None,
        batch: int = 20000,
        after: int = 0,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float32 matrix) batches of stored embeddings: the given ids, or every chunk
        with an id above `after`, in id order."""
        wanted = None if ids is None else list(ids)
        with self._sessions() as session:
            if wanted is None:
                for rows in self._pages(session, ChunkRow.embedding, batch=batch, after=after):
                    yield self._matrix(rows, dimension)
                return
            query = select(ChunkRow.id, ChunkRow.embedding).order_by(ChunkRow.id)
            for i in range(0, len(wanted), batch):
                rows = session.execute(query.where(ChunkRow.id.in_(wanted[i : i + batch]))).all()
                yield self._matrix(rows, dimension)

    @staticmethod
    def _pages(
        session: Session, *columns: Any, batch: int, after: int = 0
    ) -> Iterator[Sequence[Any]]:
        """Rows of (chunk id, *columns) of every chunk with an id above `after`, in id
        order, `batch` at a time (keyset pagination: each page is an index range scan,
        however deep)."""
        last = after
        query = select(ChunkRow.id, *columns).order_by(ChunkRow.id).limit(batch)
        while rows := session.execute(query.where(ChunkRow.id > last)).all():
            last = rows[-1][0]
            yield rows

    @staticmethod
    def _matrix(rows: Sequence[Any], dimension: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        return ids, embedding_matrix([row[1] for row in rows], dimension)

    def reembed(
        self,
        model: str,
        dimension: int,
        embed: Callable[[list[str]], np.ndarray],
        batch: int = 1024,
    ) -> int:
        """Replace every chunk's embedding with `embed(texts)` and record `model` as the
        index's model, all in one transaction: a crash half way leaves the old model's
        vectors, never a mix. Returns the number of chunks re-embedded."""
        total = 0
        with self._transaction() as session:
            for rows in self._pages(session, ChunkRow.text, batch=batch):
                vectors = embed([r[1] for r in rows])
                if vectors.shape != (len(rows), dimension):
                    raise ValueError(
                        f"expected {(len(rows), dimension)} embeddings, got {vectors.shape}"
                    )
                blobs = embedding_blobs(vectors)
                session.execute(
                    update(ChunkRow),
                    [{"id": r[0], "embedding": blobs[n]} for n, r in enumerate(rows)],
                )
                total += len(rows)
            row = self._next_generation(session)
            row.model, row.dimension = model, dimension
            # every vector changed, under the same ids: readers must re-read them all
            session.execute(delete(ChunkRemovalRow))
            session.execute(update(RemovalLogRow).values(kept_after=row.generation))
        return total

    # -- lexical -------------------------------------------------------------------------

    def lexical_search(
        self, question: str, k: int, scope: Scope | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, score) of the k chunks best matching `question`'s words, best first."""
        scope = scope or Scope()
        with self._sessions() as session:
            collection_ids = self._scope_collection_ids(session, scope)
            if collection_ids == []:
                return []
            return lexical.search(
                session.connection(),
                question,
                k,
                collection_ids,
                scope.document_ids,
                scope.source_prefix,
            )

    @staticmethod
    def _scope_collection_ids(session: Session, scope: Scope) -> list[int] | None:
        """Ids of the collections a scope allows (those that exist); None = every one."""
        names = scope.collection_names()
        if names is None:
            return None
        if not names:
            return []
        return sorted(
            session.scalars(select(CollectionRow.id).where(CollectionRow.name.in_(sorted(names))))
        )


def mismatch_message(
    stored: str | None, stored_dim: int | None, wanted: str, wanted_dim: int
) -> str:
    return (
        f"the index was built with embedding model {stored!r} (dimension {stored_dim}), "
        f"but {wanted!r} (dimension {wanted_dim}) is configured. Either set "
        f"CITED_EMBEDDING_MODEL={stored} to keep using the index, or run "
        f"`cited reindex --reembed` to re-embed every chunk with {wanted!r}."
    )
