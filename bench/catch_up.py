"""What a server pays to follow another process's write (KnowledgeBase.refresh after a
write elsewhere), by the store's removal log and the chunks past its highest id, against
comparing every chunk id (what it did before the log, and still does when the log does not
reach back far enough).

On a store of 1M chunks (SQLite, built by `bench/vectors.py --store 1000000`) and,
optionally, a PostgreSQL bench store: a server process's knowledge base is loaded, then
another writer adds a document of 10 chunks and deletes it again, ROUNDS times; each
refresh after each write is timed, the same rounds again with the comparison of every id
forced. The written documents are deleted again, so the store is left as it was (its
generation grows). Also the time to delete 100 documents of 1,000 chunks in one call (the
removal log is written by the database itself, from the chunks about to go).

    .venv/bin/python bench/catch_up.py [--postgres postgresql+psycopg://.../cited_bench_scifact_beir]

Results: bench/results/catch_up.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from corpora import CACHE, ROOT, synthetic_document

from index import KnowledgeBase, NewDocument, Store

ROUNDS = 20
CHUNKS = 10


def document(n: int, size: int = CHUNKS) -> NewDocument:
    words = [f"catchup{n}w{i}" for i in range(size)]
    return synthetic_document(words, "catch-up-bench", f"/bench/catch-up-{n}.txt", str(n))


def timed_rounds(url: str, vector_path: Path, full: bool) -> dict[str, Any]:
    reader_store, writer = Store(url), Store(url)
    try:
        state = writer.state()
        assert state.model is not None and state.dimension is not None
        reader = KnowledgeBase(reader_store, vector_path, state.model, "auto")
        started = time.perf_counter()
        vectors = reader.vectors()
        assert vectors is not None
        opened = time.perf_counter() - started
        rng = np.random.default_rng(5)
        after_add, after_delete = [], []
        for n in range(ROUNDS):
            matrix = rng.standard_normal((CHUNKS, state.dimension)).astype(np.float32)
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
            [written] = writer.write([(document(n), matrix)], state.model, state.dimension)
            for samples, change in ((after_add, None), (after_delete, written.document.id)):
                if change is not None:
                    writer.delete_documents([change])
                if full:
                    reader._high_id = None  # as without the log: every id compared
                started = time.perf_counter()
                reader.refresh()
                samples.append((time.perf_counter() - started) * 1000)
                assert len(vectors) == writer.count_chunks()
        return {
            "chunks": len(vectors),
            "kind": vectors.kind,
            "open_s": round(opened, 2),
            "after_add_ms": summary(after_add),
            "after_delete_ms": summary(after_delete),
        }
    finally:
        reader_store.close()
        writer.close()


def delete_cost(url: str, documents: int = 100) -> float:
    """Seconds to delete `documents` documents of 1,000 chunks each in one call (the
    removal log's share of a big deletion), on a scratch collection of the store."""
    store = Store(url)
    try:
        state = store.state()
        assert state.model is not None and state.dimension is not None
        rng = np.random.default_rng(6)
        batch = []
        for n in range(documents):
            matrix = rng.standard_normal((1000, state.dimension)).astype(np.float32)
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
            batch.append((document(100_000 + n, 1000), matrix))
        written = store.write(batch, state.model, state.dimension)
        started = time.perf_counter()
        store.delete_documents([w.document.id for w in written])
        return round(time.perf_counter() - started, 2)
    finally:
        store.close()


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": round(ordered[len(ordered) // 2], 2), "max": round(ordered[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, default=CACHE / "vectors-1000000")
    parser.add_argument("--postgres", help="a PostgreSQL bench store's URL, measured too")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/catch_up.json")
    args = parser.parse_args()
    stores = {"sqlite_1M": (f"sqlite:///{args.store / 'cited.db'}", args.store / "vectors.faiss")}
    if args.postgres:
        name = args.postgres.rsplit("/", 1)[1]
        stores[f"postgresql_{name}"] = (args.postgres, CACHE / f"catch-up-{name}.faiss")
    result: dict[str, Any] = {"rounds": ROUNDS, "chunks_per_write": CHUNKS}
    for label, (url, path) in stores.items():
        result[label] = {
            "removal_log": timed_rounds(url, path, full=False),
            "every_id": timed_rounds(url, path, full=True),
            "delete_100k_chunks_s": delete_cost(url),
        }
        print(label, json.dumps(result[label]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
