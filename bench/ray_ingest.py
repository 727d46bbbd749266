"""Ingestion on a local Ray cluster: throughput by cluster size, and where the time goes.

Writes SQuAD v1.1 paragraphs as .txt files (as bench/ingest.py does) and ingests them with
`--ray auto` clusters of 1 and 2 CPUs (and 1 or 2 embedding actors), each into a fresh
SQLite store, and once with the local pipeline for reference. For each run: wall time, the
start (cluster, actors, model), steady throughput after it, the per-stage split (parse and
chunk summed over Ray tasks, embed over actors, write on the driver), the rate of one
embedding actor and of the driver's writes, and the driver's peak memory (it never loads
the model). From those, the expected rate on N nodes: min(N x actor rate, driver's write
rate), the driver being the one serial stage. Results: bench/results/ray_ingest.json.

    .venv/bin/python bench/ray_ingest.py [--limit N] [--configs 1:1,2:1,2:2] [--encoder onnx]
                                         [--database-url URL] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import offline  # noqa: E402

offline.set_environment()

from corpora import database_for  # noqa: E402
from rss import PeakRss  # noqa: E402

from index import DocumentEncoder, KnowledgeBase, SentenceTransformerEmbedder, Store  # noqa: E402
from index.document_encoder import DOCUMENT_ENCODERS, document_encoder  # noqa: E402
from ingest import Ingestor, IngestReport, ParseLimits  # noqa: E402
from ingest.cluster import AUTO, RayCluster, RayStages  # noqa: E402


def measured(report: IngestReport, chunks: int, peak_mb: float) -> dict[str, Any]:
    t = report.timings
    steady = max(t.wall - t.start, 1e-9)
    return {
        "wall_s": round(t.wall, 2),
        "start_s": round(t.start, 2),
        "passages_per_s": round(report.counts["added"] / t.wall, 1),
        "chunks_per_s": round(chunks / t.wall, 1),
        "steady_chunks_per_s": round(chunks / steady, 1),
        "split_s": report.to_dict()["seconds"],
        "embed_chunks_per_s_per_actor_busy": round(chunks / max(t.embed, 1e-9), 1),
        "driver_write_chunks_per_s": round(chunks / max(t.write, 1e-9), 1),
        "parse_files_per_s_per_slot": round(report.counts["added"] / max(t.parse, 1e-9), 1),
        "driver_peak_rss_mb": peak_mb,
        "failed": len(report.failed),
    }


def run_once(
    folder: Path,
    data: Path,
    embedder: DocumentEncoder,
    stages: Any,
    database_url: str | None = None,
) -> dict[str, Any]:
    store = Store(database_url or f"sqlite:///{data / 'cited.db'}")
    if "squad" in store.collections():  # an earlier run's, in the bench's own database
        store.delete_collection("squad")
    try:
        kb = KnowledgeBase(store, data / "vectors.faiss", embedder.model_name)
        ingestor = Ingestor(kb, embedder, parse_limits=ParseLimits(), stages=stages)
        sampler = PeakRss(interval=0.5)
        sampler.start()
        report = ingestor.run([folder], "squad")
        driver_mb, _ = sampler.stop()  # its children are the local cluster's own processes
        return measured(report, store.count_chunks(), driver_mb)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpus", type=Path, default=ROOT.parent / "shared/data/squad_v1.1/corpus.jsonl"
    )
    parser.add_argument("--limit", type=int, default=1000, help="the first N passages")
    parser.add_argument(
        "--configs",
        default="1:1,2:1,2:2",
        help="cluster CPUs:embedding actors, comma-separated",
    )
    parser.add_argument("--encoder", choices=DOCUMENT_ENCODERS, default="onnx")
    parser.add_argument(
        "--database-url",
        default=None,
        help="also run the last config writing to PostgreSQL: this URL's database with "
        "_ray_ingest appended (it must exist; its collection 'squad' is emptied)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ray_ingest.json")
    args = parser.parse_args()

    lines = args.corpus.read_text().splitlines()
    passages = [json.loads(line) for line in lines if line.strip()][: args.limit]
    embedder = SentenceTransformerEmbedder()
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as top:
        folder = Path(top) / "corpus"
        folder.mkdir()
        for passage in passages:
            (folder / f"{passage['_id']}.txt").write_text(passage["text"])

        # The Ray runs first: the driver's memory is measured before this process loads
        # the model for the local run.
        configs = [tuple(int(x) for x in c.split(":")) for c in args.configs.split(",")]
        stores: list[str | None] = [None] * len(configs)
        if args.database_url:
            configs.append(configs[-1])
            stores.append(database_for(args.database_url, "ray_ingest"))
        for (cpus, embedders), url in zip(configs, stores, strict=True):
            name = f"ray_{cpus}cpu_{embedders}actor" + ("_postgresql" if url else "")
            started = time.perf_counter()
            with RayCluster(AUTO, cpus) as cluster:
                cluster_s = time.perf_counter() - started

                def on_cluster(cluster: RayCluster = cluster, embedders: int = embedders) -> Any:
                    return RayStages(
                        cluster,
                        embedder.model_name,
                        32,
                        ParseLimits(),
                        256,
                        32,
                        embedders,
                        args.encoder,
                    )

                runs[name] = {
                    "cluster_start_s": round(cluster_s, 2),
                    **run_once(folder, Path(top) / name, embedder, on_cluster, url),
                }
            print(name, json.dumps(runs[name]), flush=True)
        encoder = document_encoder(args.encoder, embedder, Path(top) / "models")
        runs["local"] = run_once(folder, Path(top) / "local", encoder, None)
        print("local", json.dumps(runs["local"]), flush=True)

    rays = [r for n, r in runs.items() if n.startswith("ray_")]
    actor_rate = max(r["embed_chunks_per_s_per_actor_busy"] for r in rays)
    write_rate = min(r["driver_write_chunks_per_s"] for r in rays)
    writes = {n: r["driver_write_chunks_per_s"] for n, r in runs.items() if n.startswith("ray_")}
    result = {
        "corpus": str(args.corpus),
        "passages": len(passages),
        "document_encoder": args.encoder,
        "runs": runs,
        "scaling": {
            "actor_chunks_per_s": actor_rate,
            "driver_write_chunks_per_s": writes,
            "expected_chunks_per_s": {
                str(n): round(min(n * actor_rate, write_rate)) for n in (1, 2, 4, 8, 16, 32)
            },
            "note": "N nodes of one CPU actor each, bounded by the slowest driver write rate "
            "measured; a GPU actor's rate r is measured on the GPU, and N such nodes give "
            "min(N*r, the driver's write rate)",
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["scaling"], indent=2))


if __name__ == "__main__":
    main()
