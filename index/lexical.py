"""Lexical (full-text) index over chunk text, kept inside the SQL store.

SQLite: an FTS5 external-content table `chunks_fts` synced by triggers, ranked by bm25().
PostgreSQL: a generated `tsv` column on chunks with a GIN index finds the candidates, and
they are ranked by BM25 (k1 1.2, b 0.75, as FTS5) computed inside PostgreSQL from term
statistics the database keeps itself: `lexical_terms` (each lexeme's document frequency)
and `lexical_totals` (chunks and lexemes in all), maintained by statement-level triggers on
chunks. PostgreSQL's own ts_rank_cd ignores how rare a term is, which costs retrieval
quality (bench/quality.py, docs/deploy.md). A chunk's length is its count of distinct
lexemes (length(tsv)).

Because both live in the same database as the chunks and are maintained by the database
itself (triggers / generated column), a chunk is in the lexical index, and counted in the
statistics, exactly when its row is committed: no separate consistency step exists or is
needed. A store made before the statistics existed gets them computed once when opened.

Questions are turned into an OR of quoted terms with stop words dropped and at most
MAX_TERMS terms, so FTS syntax typed by a user can never break or widen the query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Connection, text

MAX_TERMS = 16
BM25_K1 = 1.2
BM25_B = 0.75

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
        _install_statistics(conn)
    else:
        raise NotImplementedError(f"no lexical index for the {conn.dialect.name} dialect")


_STATISTICS = [
    "CREATE TABLE IF NOT EXISTS lexical_terms (lexeme text PRIMARY KEY, df bigint NOT NULL)",
    """CREATE OR REPLACE FUNCTION cited_lexical_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO lexical_terms (lexeme, df)
            SELECT u.lexeme, count(*) FROM added a, unnest(a.tsv) u GROUP BY u.lexeme
            ON CONFLICT (lexeme) DO UPDATE SET df = lexical_terms.df + excluded.df;
        UPDATE lexical_totals SET chunks = chunks + s.n, lexemes = lexemes + s.l
            FROM (SELECT count(*) AS n, coalesce(sum(length(tsv)), 0) AS l FROM added) s;
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION cited_lexical_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE lexical_terms t SET df = t.df - gone.n
            FROM (SELECT u.lexeme, count(*) AS n FROM removed, unnest(removed.tsv) u
                  GROUP BY u.lexeme) gone
            WHERE t.lexeme = gone.lexeme;
        DELETE FROM lexical_terms WHERE df <= 0;
        UPDATE lexical_totals SET chunks = chunks - s.n, lexemes = lexemes - s.l
            FROM (SELECT count(*) AS n, coalesce(sum(length(tsv)), 0) AS l FROM removed) s;
        RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS chunks_lexical_added ON chunks",
    "CREATE TRIGGER chunks_lexical_added AFTER INSERT ON chunks REFERENCING NEW TABLE AS "
    "added FOR EACH STATEMENT EXECUTE FUNCTION cited_lexical_added()",
    "DROP TRIGGER IF EXISTS chunks_lexical_removed ON chunks",
    "CREATE TRIGGER chunks_lexical_removed AFTER DELETE ON chunks REFERENCING OLD TABLE AS "
    "removed FOR EACH STATEMENT EXECUTE FUNCTION cited_lexical_removed()",
]


def _install_statistics(conn: Connection) -> None:
    """BM25's term statistics and the triggers that keep them (PostgreSQL); computed from
    the chunks already stored when the store predates them. The caller holds the schema
    lock (index.store), so no chunk is written in between."""
    missing = conn.execute(text("SELECT to_regclass('lexical_totals') IS NULL")).scalar_one()
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS lexical_totals (id integer PRIMARY KEY CHECK (id = 1), "
            "chunks bigint NOT NULL, lexemes bigint NOT NULL)"
        )
    )
    for statement in _STATISTICS:
        conn.execute(text(statement))
    if missing:
        conn.execute(text("DELETE FROM lexical_terms"))
        conn.execute(
            text(
                "INSERT INTO lexical_terms (lexeme, df) "
                "SELECT u.lexeme, count(*) FROM chunks c, unnest(c.tsv) u GROUP BY u.lexeme"
            )
        )
        conn.execute(
            text(
                "INSERT INTO lexical_totals (id, chunks, lexemes) "
                "SELECT 1, count(*), coalesce(sum(length(tsv)), 0) FROM chunks"
            )
        )


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
    params.update(q=" | ".join(terms), words=" ".join(terms), k1=BM25_K1, b=BM25_B)
    # BM25 over the candidates the GIN index finds: idf from lexical_terms, term frequency
    # from the positions of the question's lexemes in each chunk's tsvector (the others
    # filtered out first: setweight + ts_filter, in C). The question's values are computed
    # once (materialized) so the planner sees one row; the store's connections have JIT off
    # (index.engine). Only a scope needs the documents (a join per candidate otherwise).
    sql = (
        "WITH q AS MATERIALIZED (SELECT to_tsquery('english', :q) AS query, "
        "tsvector_to_array(to_tsvector('english', :words)) AS lexemes, "
        "(SELECT greatest(chunks, 1)::float8 FROM lexical_totals) AS n, "
        "(SELECT greatest(lexemes::float8 / greatest(chunks, 1), 1) FROM lexical_totals) "
        "AS avgdl), "
        "terms AS MATERIALIZED (SELECT t.lexeme, ln(1 + (q.n - t.df + 0.5) / (t.df + 0.5)) "
        "AS idf FROM lexical_terms t, q WHERE t.lexeme = ANY(q.lexemes)) "
        "SELECT c.id, sum(terms.idf * u.tf * (CAST(:k1 AS float8) + 1) / (u.tf + "
        "CAST(:k1 AS float8) * (1 - CAST(:b AS float8) + CAST(:b AS float8) * length(c.tsv) "
        "/ q.avgdl))) AS rank "
        "FROM q, chunks c "
        + ("JOIN documents d ON d.id = c.document_id " if where else "")
        + "CROSS JOIN LATERAL (SELECT x.lexeme, coalesce(array_length(x.positions, 1), 1)::float8 "
        "AS tf FROM unnest(ts_filter(setweight(c.tsv, 'A', q.lexemes), '{a}')) x) u "
        "JOIN terms ON terms.lexeme = u.lexeme "
        "WHERE c.tsv @@ q.query" + where + " GROUP BY c.id ORDER BY rank DESC, c.id LIMIT :k"
    )
    return [(int(row[0]), float(row[1])) for row in conn.execute(text(sql), params)]
