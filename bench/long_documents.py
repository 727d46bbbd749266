"""What a search pays to join its chunks to long documents (Store.chunks_with_documents,
on every question's path): 50 random chunks of a store of 10 documents of ~1 MB of text
each (a few hundred pages each), 200 times, on SQLite and optionally on PostgreSQL.

The store's documents are synthetic (random words, 1,000 paragraphs each) and written
straight to the store with random unit vectors: the join never looks at either. On
PostgreSQL, the bench writes a collection of its own into the given database and deletes
it after.

    .venv/bin/python bench/long_documents.py [--postgres postgresql+psycopg://.../db]

Results: bench/results/long_documents.json.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from corpora import ROOT, synthetic_document

from index import NewDocument, Store

DOCUMENTS = 10
PARAGRAPHS = 1000
JOINED = 50
ROUNDS = 200
COLLECTION = "long-documents-bench"
DIMENSION = 8


def long_document(n: int, rng: random.Random, words: list[str]) -> NewDocument:
    paragraphs = [" ".join(rng.choices(words, k=150)) for _ in range(PARAGRAPHS)]
    return synthetic_document(paragraphs, COLLECTION, f"/bench/long-{n}.txt", str(n), "\n\n")


def measure(url: str) -> dict[str, Any]:
    rng = random.Random(0)
    words = ["".join(rng.choices("abcdefghijklmnop", k=6)) for _ in range(5000)]
    store = Store(url)
    try:
        if COLLECTION in store.collections():
            store.delete_collection(COLLECTION)
        vectors = np.random.default_rng(0).standard_normal((PARAGRAPHS, DIMENSION))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        model = store.state().model or "long-documents-bench"
        batch = [(long_document(n, rng, words), vectors) for n in range(DOCUMENTS)]
        written = store.write(batch, model, DIMENSION)
        ids = [i for w in written for i in w.chunk_ids]
        samples = []
        pick = np.random.default_rng(1)
        for _ in range(ROUNDS):
            chosen = pick.choice(ids, JOINED, replace=False).tolist()
            started = time.perf_counter()
            joined = store.chunks_with_documents(chosen)
            samples.append((time.perf_counter() - started) * 1000)
            assert len(joined) == JOINED
        samples.sort()
        return {
            "documents": DOCUMENTS,
            "chars_per_document": len(batch[0][0].text),
            "chunks_joined": JOINED,
            "join_ms": {
                "p50": round(samples[len(samples) // 2], 2),
                "p90": round(samples[int(len(samples) * 0.9)], 2),
            },
        }
    finally:
        if COLLECTION in store.collections():
            store.delete_collection(COLLECTION)
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="a PostgreSQL database the bench may write to")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/long_documents.json")
    args = parser.parse_args()
    result: dict[str, Any] = {"rounds": ROUNDS}
    with tempfile.TemporaryDirectory() as folder:
        result["sqlite"] = measure(f"sqlite:///{Path(folder) / 'cited.db'}")
        print("sqlite", json.dumps(result["sqlite"]))
    if args.postgres:
        result["postgresql"] = measure(args.postgres)
        print("postgresql", json.dumps(result["postgresql"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
