"""Query latency over the squad_v1.1 index: hybrid `search` and extractive `ask`, one
client, models warm (after a warm-up). `ask` is timed twice: with the shared sentence
vector cache as a server keeps it, and with the cache cleared before every question (every
sentence embedded afresh: the worst case). Results: bench/results/query.json.

    .venv/bin/python bench/query.py [--questions N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Any

from corpora import ROOT, prepare

from api import wiring

WARMUP = 30


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "mean_ms": round(sum(ordered) / len(ordered), 2),
        "n": len(ordered),
    }


def timed(call: Any, questions: list[str], before: Any = None) -> list[float]:
    samples = []
    for question in questions:
        if before:
            before()
        started = time.perf_counter()
        call(question)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/query.json")
    args = parser.parse_args()

    corpus = prepare("squad_v1.1")
    settings = corpus.settings
    store = wiring.open_store(settings)
    kb = wiring.knowledge_base(settings, store)
    retriever = wiring.retriever(settings, kb, wiring.embedder(settings))
    qa = wiring.question_answerer(settings, retriever)
    questions = [
        q["text"] for q in random.Random(7).sample(corpus.queries, args.questions + WARMUP)
    ]
    warmup, questions = questions[:WARMUP], questions[WARMUP:]
    for question in warmup:
        qa.ask(question)

    search = timed(lambda q: retriever.search(q, settings.top_k), questions)
    cold = timed(qa.ask, questions, before=qa.vectors.clear)
    qa.vectors.clear()
    warm = timed(qa.ask, questions)
    answered = sum(not qa.ask(q).abstained for q in questions[:200])
    result = {
        "index": {"documents": store.count_documents(), "chunks": store.count_chunks()},
        "search_hybrid": percentiles(search),
        "ask_extractive_cold_sentence_cache": percentiles(cold),
        "ask_extractive_shared_sentence_cache": percentiles(warm),
        "answered_share_first_200": round(answered / 200, 3),
        "settings": {
            "top_k": settings.top_k,
            "search_mode": settings.search_mode,
            "torch_threads": __import__("torch").get_num_threads(),
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    store.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
