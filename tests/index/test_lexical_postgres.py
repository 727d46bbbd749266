"""PostgreSQL's lexical ranking keeps its own BM25 term statistics (index.lexical): they
follow every write and deletion in the same transaction, and a store made before they
existed gets them computed when it is opened."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import text

from index import Store
from tests.conftest import POSTGRES_URL, _reset_postgres
from tests.helpers.documents import new_document

pytestmark = pytest.mark.postgres

DIM = 4


@pytest.fixture
def store() -> Iterator[Store]:
    _reset_postgres(POSTGRES_URL)
    opened = Store(POSTGRES_URL)
    yield opened
    opened.close()


def statistics(store: Store) -> tuple[dict[str, int], tuple[int, int]]:
    with store.engine.connect() as conn:
        terms = {
            str(r[0]): int(r[1]) for r in conn.execute(text("SELECT lexeme, df FROM lexical_terms"))
        }
        totals = conn.execute(text("SELECT chunks, lexemes FROM lexical_totals")).one()
    return terms, (int(totals[0]), int(totals[1]))


def recomputed(store: Store) -> tuple[dict[str, int], tuple[int, int]]:
    with store.engine.connect() as conn:
        terms = {
            str(r[0]): int(r[1])
            for r in conn.execute(
                text("SELECT u.lexeme, count(*) FROM chunks c, unnest(c.tsv) u GROUP BY u.lexeme")
            )
        }
        totals = conn.execute(
            text("SELECT count(*), coalesce(sum(length(tsv)), 0) FROM chunks")
        ).one()
    return terms, (int(totals[0]), int(totals[1]))


def write(store: Store, source: str, paragraphs: list[str]) -> str:
    vectors = np.ones((len(paragraphs), DIM), dtype=np.float32) / 2
    [result] = store.write([(new_document(source, paragraphs), vectors)], "m", DIM)
    return result.document.id


def test_statistics_follow_writes_rewrites_and_deletions(store: Store) -> None:
    first = write(store, "/d/a.txt", ["Harbour pilots board ships.", "Pilots rest ashore."])
    write(store, "/d/b.txt", ["The harbour closes at night."])
    assert statistics(store) == recomputed(store)
    assert statistics(store)[0]["harbour"] == 2
    write(store, "/d/a.txt", ["Tugboats replaced the pilots."])  # a new version
    assert statistics(store) == recomputed(store)
    store.delete_documents([first])
    assert statistics(store) == recomputed(store)
    assert "tugboat" not in statistics(store)[0]  # no lexeme is kept at zero


def test_a_store_from_before_the_statistics_gets_them_when_opened(store: Store) -> None:
    write(store, "/d/a.txt", ["Harbour pilots board ships.", "Pilots rest ashore."])
    with store.engine.begin() as conn:  # as a store made by an earlier cited was
        conn.execute(text("DROP TRIGGER chunks_lexical_added ON chunks"))
        conn.execute(text("DROP TRIGGER chunks_lexical_removed ON chunks"))
        conn.execute(text("DROP TABLE lexical_terms, lexical_totals"))
    write(store, "/d/b.txt", ["The harbour closes at night."])
    again = Store(POSTGRES_URL)
    try:
        assert statistics(again) == recomputed(again)
        assert statistics(again)[1][0] == 3
        assert again.lexical_search("harbour", 5)
    finally:
        again.close()
