"""Retrieval with int8 chunk vectors against fp32, through the whole retriever (dense,
lexical and hybrid): what issue 13's int8 decision lacked (bench/int8_encoder.py measured
dense retrieval only, on vectors embedded in memory).

Each set's SQLite bench store (bench/.cache/<set>, built by bench/quality.py) is copied,
and the copy's chunks are re-embedded with the int8 document encoder as `cited reindex
--reembed` does under CITED_DOCUMENT_ENCODER=int8 (the same chunks; questions stay fp32,
as the query path embeds them). Both are then measured with bench/quality.py's retrieval
measures on the same questions. The bar: at most 0.005 below fp32 on recall@5 and
nDCG@10.

    .venv/bin/python bench/int8_hybrid.py [--limit 2000]

Results: bench/results/int8_hybrid.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from corpora import DATA, ROOT, Corpus, prepare, read_qrels
from quality import retrieval, sample

from api import wiring
from api.settings import Settings


def int8_copy(corpus: Corpus, folder: Path) -> Settings:
    """The corpus's store copied into `folder`, its chunks re-embedded with int8."""
    shutil.copy(corpus.settings.data_dir / "cited.db", folder / "cited.db")
    settings = corpus.settings.model_copy(update={"data_dir": folder, "document_encoder": "int8"})
    store = wiring.open_store(settings)
    try:
        model = wiring.document_encoder(settings, wiring.embedder(settings))
        started = time.perf_counter()
        total = store.reembed(settings.index_model, model.dimension, model.embed_documents)
        print(
            f"{corpus.name}: {total} chunks re-embedded with int8 in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        wiring.knowledge_base(settings, store).rebuild()
    finally:
        store.close()
    return settings


def measured(corpus: Corpus, settings: Settings, queries: list[dict[str, Any]]) -> dict[str, Any]:
    store = wiring.open_store(settings)
    try:
        kb = wiring.knowledge_base(settings, store)
        retriever = wiring.retriever(settings, kb, wiring.embedder(settings))
        if corpus.name == "squad_v1.1":
            return retrieval(corpus, retriever, queries, lambda q: {q["gold_paragraph"]: 1})
        qrels = read_qrels(DATA / corpus.name / "qrels" / "test.tsv")
        return retrieval(corpus, retriever, queries, lambda q: qrels[q["_id"]])
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=2000, help="questions per set (0 = all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/int8_hybrid.json")
    args = parser.parse_args()
    result: dict[str, Any] = {"limit": args.limit}
    for name in ("squad_v1.1", "scifact_beir"):
        corpus = prepare(name)
        queries = corpus.queries
        if name == "scifact_beir":
            qrels = read_qrels(DATA / name / "qrels" / "test.tsv")
            queries = [q for q in queries if q["_id"] in qrels]
        queries = sample(queries, args.limit)
        with tempfile.TemporaryDirectory() as folder:
            fp32 = measured(corpus, corpus.settings, queries)
            int8 = measured(corpus, int8_copy(corpus, Path(folder)), queries)
        result[name] = {
            "questions": len(queries),
            "fp32": fp32,
            "int8": int8,
            "difference": {
                mode: {
                    measure: round(int8[mode][measure] - fp32[mode][measure], 4)
                    for measure in ("recall@5", "ndcg@10")
                }
                for mode in fp32
            },
        }
        print(name, json.dumps(result[name]["difference"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
