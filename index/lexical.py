"""Lexical (full-text) index over chunk text, kept inside the SQL store.

SQLite: an FTS5 external-content table `chunks_fts` synced by triggers, ranked by bm25().
PostgreSQL: a generated `tsv` column on chunks with a GIN index, ranked by ts_rank_cd().

Because both live in the same database as the chunks and are maintained by the database
itself (triggers / generated column), a chunk is in the lexical index exactly when its row
is committed: no separate consistency step exists or is needed.

Questions are turned into an OR of quoted terms with stop words dropped and at most
MAX_TERMS terms, so FTS syntax typed by a user can never break or widen the query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Connection, text

MAX_TERMS = 16

STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "don",
        "shall",
        "may",
        "might",
        "must",
    ]
)

_TERM = re.compile(r"\w+", re.UNICODE)


def query_terms(question: str) -> list[str]:
    """Distinct lower-cased content words of `question`, in order, at most MAX_TERMS."""
    seen: dict[str, None] = {}
    for term in _TERM.findall(question.lower()):
        if term not in STOP_WORDS and term not in seen:
            seen[term] = None
    terms = list(seen)
    if not terms:  # a question made only of stop words still deserves a search
        terms = list(dict.fromkeys(_TERM.findall(question.lower())))
    return terms[:MAX_TERMS]


def install(conn: Connection) -> None:
    """Create the lexical index for the connection's dialect if it is missing (idempotent)."""
    if conn.dialect.name == "sqlite":
        conn.execute(
            text(
                "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5("
                "text, content='chunks', content_rowid='id', "
                "tokenize='porter unicode61 remove_diacritics 2')"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN "
                "INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text); END"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN "
                "INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
            )
        )
    elif conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "ALTER TABLE chunks ADD COLUMN IF NOT EXISTS tsv tsvector "
                "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
            )
        )
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_chunks_tsv ON chunks USING gin (tsv)"))
    else:
        raise NotImplementedError(f"no lexical index for the {conn.dialect.name} dialect")


def scope_sql(
    collection_ids: Sequence[int] | None, document_ids: Sequence[str], source_prefix: str | None
) -> tuple[str, dict[str, object]]:
    """SQL conditions on `d` (documents) limiting a search to a scope, and their parameters.
    `collection_ids` None = any collection. The source prefix is compared with substr(),
    not LIKE, so % and _ in paths are literal."""
    where = ""
    params: dict[str, object] = {}
    if collection_ids is not None:
        names = [f"cid{i}" for i in range(len(collection_ids))]
        where += " AND d.collection_id IN (" + ", ".join(":" + n for n in names) + ")"
        params.update(zip(names, collection_ids, strict=True))
    if document_ids:
        names = [f"doc{i}" for i in range(len(document_ids))]
        where += " AND d.id IN (" + ", ".join(":" + n for n in names) + ")"
        params.update(zip(names, document_ids, strict=True))
    if source_prefix:
        where += " AND substr(d.source, 1, :plen) = :prefix"
        params["plen"] = len(source_prefix)
        params["prefix"] = source_prefix
    return where, params


def search(
    conn: Connection,
    question: str,
    k: int,
    collection_ids: Sequence[int] | None = None,
    document_ids: Sequence[str] = (),
    source_prefix: str | None = None,
) -> list[tuple[int, float]]:
    """(chunk id, score) pairs, best first; higher score is better."""
    terms = query_terms(question)
    if not terms or k <= 0:
        return []
    where, params = scope_sql(collection_ids, document_ids, source_prefix)
    params["k"] = k
    if conn.dialect.name == "sqlite":
        params["q"] = " OR ".join('"' + term + '"' for term in terms)
        joins = ""
        if where:  # only a scope needs the documents; without one FTS5 answers alone
            joins = (
                "JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id "
            )
        sql = (
            "SELECT chunks_fts.rowid, bm25(chunks_fts) AS rank FROM chunks_fts "
            + joins
            + "WHERE chunks_fts MATCH :q"
            + where
            + " ORDER BY rank LIMIT :k"
        )
        return [(int(row[0]), -float(row[1])) for row in conn.execute(text(sql), params)]
    params["q"] = " | ".join(terms)
    sql = (
        "SELECT c.id, ts_rank_cd(c.tsv, q) AS rank FROM chunks c "
        "JOIN documents d ON d.id = c.document_id, to_tsquery('english', :q) q "
        "WHERE c.tsv @@ q" + where + " ORDER BY rank DESC LIMIT :k"
    )
    return [(int(row[0]), float(row[1])) for row in conn.execute(text(sql), params)]
