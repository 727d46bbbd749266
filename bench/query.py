"""Query latency over the squad_v1.1 index: hybrid `search` and extractive `ask`, one
client, models warm (after a warm-up); the support check's cost per (sentence, quote) pair
when batched as an answer's verification batches them; the reading models' load time
(base weights, delta and checksum, from disk). Results: bench/results/query.json.

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

from answer import PairScorer
from answer.text import sentences
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


def support_cost(qa: Any, retriever: Any, questions: list[str]) -> dict[str, float]:
    """Milliseconds per (claim, quote) pair: each question's best passage read against a
    claim made from its first sentence, every candidate quote in one batch (check_many)."""
    items = []
    for question in questions:
        passage = retriever.search(question, 1)[0]
        first = sentences(passage.text)[0]
        items.append((first.rstrip(".") + " as reported.", passage))
    before = qa.checker.model.pairs_scored
    started = time.perf_counter()
    for start in range(0, len(items), 5):  # an answer of five sentences at a time
        qa.checker.check_many(items[start : start + 5])
    seconds = time.perf_counter() - started
    pairs = qa.checker.model.pairs_scored - before
    return {"pairs": pairs, "ms_per_pair": round(seconds * 1000 / max(pairs, 1), 2)}


def load_times(fast_path_dir: Path) -> dict[str, float]:
    """Seconds to load each reading model as a server starts (its ONNX export cached)."""
    out = {}
    for task in ("answer", "support"):
        started = time.perf_counter()
        _ = PairScorer(task, fast_path_dir=fast_path_dir).fast  # type: ignore[arg-type]
        out[task] = round(time.perf_counter() - started, 2)
    return out


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
    ask = timed(qa.ask, questions)
    answered = sum(not qa.ask(q).abstained for q in questions[:200])
    result = {
        "index": {"documents": store.count_documents(), "chunks": store.count_chunks()},
        "search_hybrid": percentiles(search),
        "ask_extractive": percentiles(ask),
        "support_check_batched": support_cost(qa, retriever, questions[:100]),
        "model_load_s": load_times(settings.fast_path_dir or settings.data_dir / "models"),
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
