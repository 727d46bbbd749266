"""Approximate (HNSW) against exact (flat) vector search: recall@10 and latency.

Vectors shaped like the index's real ones: the stored chunk embeddings of the benchmark
corpora (bench/.cache, ~7,500 MiniLM vectors), and, to reach the sizes where HNSW takes
over, copies of them with Gaussian noise added and renormalized (the noise keeps each
copy's nearest neighbours close to its original's, as near-duplicate paragraphs are).
Queries are embedded SQuAD questions. Results: bench/results/vectors.json.

    .venv/bin/python bench/vectors.py [--sizes 7500,200000] [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
from corpora import CACHE, ROOT, read_jsonl

from index import SentenceTransformerEmbedder, Store
from index.vectors import HnswParams, VectorIndex


def stored_vectors() -> np.ndarray:
    blocks = []
    for db in sorted(CACHE.glob("*/cited.db")):
        store = Store(f"sqlite:///{db}")
        try:
            state = store.state()
            if state.dimension:
                blocks.extend(m for _, m in store.iter_embeddings(state.dimension))
        finally:
            store.close()
    if not blocks:
        raise SystemExit("no benchmark index in bench/.cache: run bench/quality.py first")
    return np.concatenate(blocks)


def grow(base: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    if size <= len(base):
        return base[:size]
    extra = base[rng.integers(0, len(base), size - len(base))]
    extra = extra + rng.normal(0, 0.02, extra.shape).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.concatenate([base, extra])


def timed_search(index: VectorIndex, queries: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    found = []
    started = time.perf_counter()
    for query in queries:
        found.append(index.search(query, k)[1][0])
    return np.stack(found), (time.perf_counter() - started) * 1000 / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="7500,200000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/vectors.json")
    args = parser.parse_args()
    rng = np.random.default_rng(5)
    base = stored_vectors()
    questions = read_jsonl(ROOT.parent / "shared/data/squad_v1.1/queries.jsonl")
    texts = [q["text"] for q in random.Random(3).sample(questions, args.queries)]
    queries = SentenceTransformerEmbedder().embed_documents(texts)
    result: dict[str, object] = {"base_vectors": len(base), "queries": len(queries)}
    for size in (int(s) for s in args.sizes.split(",")):
        vectors = grow(base, size, rng)
        ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
        flat = VectorIndex(vectors.shape[1], "flat")
        flat.add(ids, vectors)
        exact, flat_ms = timed_search(flat, queries, 10)
        rows: dict[str, object] = {"flat_ms_per_query": round(flat_ms, 3)}
        started = time.perf_counter()
        hnsw = VectorIndex(vectors.shape[1], "hnsw", HnswParams())
        hnsw.add(ids, vectors)
        rows["hnsw_build_s"] = round(time.perf_counter() - started, 1)
        for ef in (32, 64, 128, 256):
            hnsw.hnsw = HnswParams(ef_search=ef)
            approx, ms = timed_search(hnsw, queries, 10)
            recall = np.mean(
                [len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)]
            )
            rows[f"hnsw_ef{ef}"] = {
                "recall@10": round(float(recall), 4),
                "ms_per_query": round(ms, 3),
            }
        result[str(size)] = rows
        print(size, json.dumps(rows), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
