"""Vector index kinds against exact search: recall@10, latency, memory, build time.

Vectors shaped like the index's real ones: the stored chunk embeddings of the benchmark
corpora (bench/.cache, ~7,500 MiniLM vectors), and, to reach the sizes where HNSW and IVF
take over, copies of them with Gaussian noise added and renormalized (the noise keeps each
copy's nearest neighbours close to its original's, as near-duplicate paragraphs are).
Queries are embedded SQuAD questions; the exact top 10 is computed by brute force.

Per size (`--sizes`): flat (up to 1M), HNSW (up to `--hnsw-max`: its build is slow on two
cores) and IVF with 8-bit codes at several nprobe, alone and with its candidates re-scored
exactly (4k of them, from the float vectors, as the knowledge base does from the store).
Latency is one question at a time, p50 and p99.

`--store N` also builds a SQLite store of N chunks with those vectors (cached in
bench/.cache/vectors-N/) and measures the real path: the knowledge base's IVF rebuild,
opening the store (loading the saved index and checking it against SQL's ids), and
`search_ids` with the exact re-scoring read from SQL.
Results: bench/results/vectors.json.

    .venv/bin/python bench/vectors.py [--sizes 7500,200000,1000000] [--store 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from corpora import CACHE, ROOT, read_jsonl, synthetic_document

from index import KnowledgeBase, SentenceTransformerEmbedder, Store
from index.knowledge import RESCORE
from index.vectors import HnswParams, IvfParams, VectorIndex, train_size

NPROBES = (16, 32, 48, 64, 96)
K = 10


def stored_vectors() -> np.ndarray:
    blocks = []
    for db in sorted(CACHE.glob("*/cited.db")):
        if db.parent.name.startswith("vectors-"):
            continue
        store = Store(f"sqlite:///{db}")
        try:
            state = store.state()
            if state.dimension:
                blocks.extend(m for _, m in store.iter_embeddings(state.dimension))
        finally:
            store.close()
    if not blocks:
        raise SystemExit("no benchmark index in bench/.cache: run bench/quality.py first")
    # the corpora share paragraphs (SQuAD 2.0's dev set reuses v1.1's): exact duplicates
    # would make "the exact top 10" ambiguous
    return np.unique(np.concatenate(blocks), axis=0)


def grow(base: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    if size <= len(base):
        return base[:size].copy()
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    out[: len(base)] = base
    for start in range(len(base), size, 200_000):
        end = min(size, start + 200_000)
        block = base[rng.integers(0, len(base), end - start)]
        block = block + rng.normal(0, 0.02, block.shape).astype(np.float32)
        out[start:end] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Ids (1-based rows) of the k best rows per query, by brute force in blocks."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(vectors), 200_000):
        scores = queries @ vectors[start : start + 200_000].T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        merged_scores = np.hstack([best_scores, np.take_along_axis(scores, top, axis=1)])
        merged_ids = np.hstack([best_ids, top + start + 1])
        order = np.argsort(-merged_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, order, axis=1)
        best_ids = np.take_along_axis(merged_ids, order, axis=1)
    return best_ids


def recall(found: list[list[int]], exact: np.ndarray) -> float:
    return round(
        float(np.mean([len(set(f[:K]) & set(e)) / K for f, e in zip(found, exact, strict=True)])), 4
    )


def latency(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(ordered[len(ordered) // 2], 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
    }


def run_searches(
    index: VectorIndex, queries: np.ndarray, k: int
) -> tuple[list[list[int]], list[float]]:
    found, times = [], []
    for query in queries:
        started = time.perf_counter()
        ids = index.search(query, k)[1][0]
        times.append((time.perf_counter() - started) * 1000)
        found.append([int(i) for i in ids])
    return found, times


def ivf_rows(vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    started = time.perf_counter()
    index = VectorIndex(vectors.shape[1], "ivf", expected=len(vectors))
    sample = vectors[
        np.random.default_rng(0).choice(
            len(vectors), train_size(len(vectors), index.nlist), replace=False
        )
    ]
    index.train(sample, len(vectors))
    for start in range(0, len(vectors), 100_000):
        index.add(ids[start : start + 100_000], vectors[start : start + 100_000])
    rows["build_s"] = round(time.perf_counter() - started, 1)
    rows["lists"] = index.nlist
    rows["memory_mb_estimate"] = index.describe()["memory_mb"]
    rows["memory_mb_serialized"] = round(len(faiss.serialize_index(index._index)) / 2**20, 1)
    for nprobe in NPROBES:
        index.ivf = IvfParams(nprobe=nprobe, nlist=index.nlist)
        approx, times = run_searches(index, queries, K)
        candidates, rescored_times = [], []
        for query in queries:
            started = time.perf_counter()
            got = [int(i) for i in index.search(query, RESCORE * K)[1][0] if i >= 0]
            exact_scores = vectors[np.array(got) - 1] @ query
            candidates.append([got[j] for j in np.argsort(-exact_scores)[:K]])
            rescored_times.append((time.perf_counter() - started) * 1000)
        rows[f"nprobe{nprobe}"] = {
            "recall@10": recall(approx, exact),
            "recall@10_rescored": recall(candidates, exact),
            **latency(times),
            "rescored": latency(rescored_times),
        }
        print(len(vectors), "ivf", nprobe, json.dumps(rows[f"nprobe{nprobe}"]), flush=True)
    return rows


def sizes_run(
    base: np.ndarray, queries: np.ndarray, sizes: list[int], hnsw_max: int
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    rng = np.random.default_rng(5)
    for size in sizes:
        vectors = grow(base, size, rng)
        exact = exact_top(vectors, queries)
        rows: dict[str, Any] = {
            "flat_memory_mb": round(size * (vectors.shape[1] * 4 + 24) / 2**20, 1)
        }
        ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
        if size <= 1_000_000:
            flat = VectorIndex(vectors.shape[1], "flat")
            flat.add(ids, vectors)
            found, times = run_searches(flat, queries, K)
            rows["flat"] = {"recall@10": recall(found, exact), **latency(times)}
            del flat
        if size <= hnsw_max:
            started = time.perf_counter()
            hnsw = VectorIndex(vectors.shape[1], "hnsw", HnswParams())
            hnsw.add(ids, vectors)
            rows["hnsw_build_s"] = round(time.perf_counter() - started, 1)
            rows["hnsw_memory_mb"] = hnsw.describe()["memory_mb"]
            for ef in (64, 128, 256):
                hnsw.hnsw = HnswParams(ef_search=ef)
                found, times = run_searches(hnsw, queries, K)
                rows[f"hnsw_ef{ef}"] = {"recall@10": recall(found, exact), **latency(times)}
            del hnsw
        rows["ivf_sq8"] = ivf_rows(vectors, queries, exact)
        result[str(size)] = rows
        print(size, json.dumps({k: v for k, v in rows.items() if k != "ivf_sq8"}), flush=True)
        del vectors
    return result


def store_run(base: np.ndarray, queries: np.ndarray, size: int) -> dict[str, Any]:
    """The knowledge base's real path over a SQLite store of `size` chunks."""
    vectors = grow(base, size, np.random.default_rng(11))
    folder = CACHE / f"vectors-{size}"
    folder.mkdir(parents=True, exist_ok=True)
    ids_path = folder / "chunk_ids.npy"  # chunk id of each row (the store assigns them)
    if not ids_path.exists():  # not built, or interrupted: from scratch
        for stale in folder.glob("*"):
            stale.unlink()
    store = Store(f"sqlite:///{folder / 'cited.db'}")
    out: dict[str, Any] = {"chunks": size}
    try:
        if not ids_path.exists():
            by_row = np.zeros(size, dtype=np.int64)
            started = time.perf_counter()
            per = 100
            for first in range(0, size, per * 50):
                batch = []
                for doc in range(first, min(size, first + per * 50), per):
                    n = min(per, size - doc)
                    words = [f"c{doc + i}" for i in range(n)]
                    document = synthetic_document(
                        words, "default", f"/bench/{doc:09d}.txt", str(doc)
                    )
                    batch.append((document, vectors[doc : doc + n]))
                for (document, _), written in zip(
                    batch, store.write(batch, "bench-model", vectors.shape[1]), strict=True
                ):
                    row = int(document.title)
                    by_row[row : row + len(written.chunk_ids)] = written.chunk_ids
            np.save(ids_path, by_row)
            out["store_build_s"] = round(time.perf_counter() - started, 1)
        by_row = np.load(ids_path)
        for row in (0, size // 2, size - 1):
            ((_, stored),) = store.iter_embeddings(vectors.shape[1], ids=[int(by_row[row])])
            assert np.allclose(stored[0], vectors[row], atol=1e-6), "rows and chunk ids differ"
        exact = by_row[exact_top(vectors, queries) - 1]
        path = folder / "vectors.faiss"
        kb = KnowledgeBase(store, path, "bench-model", "auto")
        started = time.perf_counter()
        kb.rebuild()
        out["ivf_rebuild_s"] = round(time.perf_counter() - started, 1)
        index = kb.vectors()
        assert index is not None
        out["index"] = index.describe()
        started = time.perf_counter()
        reopened = KnowledgeBase(store, path, "bench-model", "auto")
        reopened.vectors()
        out["open_s"] = round(time.perf_counter() - started, 2)
        out["open_repair"] = reopened.last_repair.__dict__ if reopened.last_repair else None
        found, times = [], []
        for query in queries:
            started = time.perf_counter()
            hits = reopened.search_ids(query, K)
            times.append((time.perf_counter() - started) * 1000)
            found.append([i for i, _ in hits])
        out["search_ids"] = {"recall@10": recall(found, exact), **latency(times)}
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print("store", json.dumps(out), flush=True)
    finally:
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="7500,200000")
    parser.add_argument("--hnsw-max", type=int, default=200_000)
    parser.add_argument("--store", type=int, default=0, help="also measure a store of N chunks")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/vectors.json")
    args = parser.parse_args()
    base = stored_vectors()
    questions = read_jsonl(ROOT.parent / "shared/data/squad_v1.1/queries.jsonl")
    texts = [q["text"] for q in random.Random(3).sample(questions, args.queries)]
    queries = SentenceTransformerEmbedder().embed_documents(texts)
    result: dict[str, Any] = {"base_vectors": len(base), "queries": len(queries)}
    result.update(
        sizes_run(base, queries, [int(s) for s in args.sizes.split(",") if s], args.hnsw_max)
    )
    if args.store:
        result["store"] = store_run(base, queries, args.store)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
