"""Grid search of the fusion constants (RRF k and the lexical weight; dense weight 1) on
squad_v1.1 and scifact_beir, from dense and lexical rankings computed once per question.
Prints recall@5 / MRR@10 (SQuAD) and nDCG@10 (SciFact) per setting, and writes
bench/results/fusion.json. The defaults in api/settings.py come from this table.

    .venv/bin/python bench/fusion.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from corpora import DATA, ROOT, prepare, read_qrels
from quality import sample

from api import wiring
from index import Scope
from retrieve import reciprocal_rank_fusion

DEPTH = 50


def rankings(name: str, limit: int) -> list[tuple[list[str], list[str], dict[str, int]]]:
    corpus = prepare(name)
    settings = corpus.settings
    store = wiring.open_store(settings)
    kb = wiring.knowledge_base(settings, store)
    model = wiring.embedder(settings)
    if name == "scifact_beir":
        qrels = read_qrels(DATA / name / "qrels" / "test.tsv")
        queries = [(q["text"], qrels[q["_id"]]) for q in corpus.queries if q["_id"] in qrels]
    else:
        queries = [(q["text"], {q["gold_paragraph"]: 1}) for q in corpus.queries]
    queries = sample(queries, limit)  # type: ignore[arg-type]
    source = {}
    out = []
    scope = Scope()
    for text, gold in queries:
        dense = [i for i, _ in kb.search_ids(model.embed_query(text), DEPTH, scope)]
        lexical = [i for i, _ in store.lexical_search(text, DEPTH, scope)]
        missing = [i for i in dense + lexical if i not in source]
        for chunk_id, (_, document) in kb.chunks(missing).items():
            source[chunk_id] = corpus.corpus_id(document.source)
        out.append(([source[i] for i in dense], [source[i] for i in lexical], gold))
    store.close()
    return out


def metrics(ranked: list[str], gold: dict[str, int]) -> tuple[float, float, float, float]:
    docs = list(dict.fromkeys(ranked))[:10]
    first = next((r for r, d in enumerate(docs, 1) if d in gold), None)
    dcg = sum(gold.get(d, 0) / math.log2(r + 1) for r, d in enumerate(docs, 1))
    ideal = sum(
        g / math.log2(r + 1) for r, g in enumerate(sorted(gold.values(), reverse=True)[:10], 1)
    )
    return (
        float(first == 1),
        float(first is not None and first <= 5),
        (1 / first if first else 0.0),
        dcg / ideal,
    )


def evaluate(
    runs: list[Any], k: float, lexical_weight: float, mode: str = "hybrid"
) -> dict[str, float]:
    totals = [0.0, 0.0, 0.0, 0.0]
    for dense, lexical, gold in runs:
        if mode == "dense":
            ranked = dense
        elif mode == "lexical":
            ranked = lexical
        else:
            # Fuse at document level, as chunk ids map to corpus ids (first chunk wins).
            fused = reciprocal_rank_fusion(
                [list(dict.fromkeys(dense)), list(dict.fromkeys(lexical))], [1.0, lexical_weight], k
            )
            ranked = [d for d, _ in fused]  # type: ignore[misc]
        for i, value in enumerate(metrics(ranked, gold)):
            totals[i] += value
    n = len(runs)
    names = ("recall@1", "recall@5", "mrr@10", "ndcg@10")
    return {name: round(total / n, 4) for name, total in zip(names, totals, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/fusion.json")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    for name in ("squad_v1.1", "scifact_beir"):
        runs = rankings(name, args.limit)
        table: dict[str, Any] = {
            "dense": evaluate(runs, 60, 1, "dense"),
            "lexical": evaluate(runs, 60, 1, "lexical"),
        }
        for k in (2, 5, 10, 60):
            for weight in (1.0, 1.5, 2.0, 2.5, 3.0):
                table[f"k={k} lexical_weight={weight}"] = evaluate(runs, k, weight)
        result[name] = table
        for key, value in table.items():
            print(name, key, value, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
