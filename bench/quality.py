"""Answer quality over ../shared/data: retrieval, extractive answers, abstention.

- squad_v1.1: recall@1/5/10 and MRR@10 of the gold paragraph for dense, lexical and hybrid
  (all questions); on the questions of the articles held out of the reading models'
  training (training.data: split by article), answer containment (a gold answer string
  inside the extractive answer), citation precision (share of citations from the gold
  paragraph) and invariant 1 for every citation (quote == document text[start:end],
  checked against the store).
- squad_v2.0_cs224n_dev: on the held-out test articles, at the configured threshold (the
  answer model's calibrated one unless CITED_ABSTAIN_THRESHOLD is set), the share of
  unanswerable questions declined, of answerable ones answered, and the containment of
  the answered ones; also the threshold the whole pipeline would calibrate on the `calib`
  articles (the best balanced accuracy) and its rates on the test articles.
- scifact_beir: nDCG@10 on the 300 test claims for dense, lexical and hybrid.

    .venv/bin/python bench/quality.py [--limit N] [--sets a,b] [--out PATH]

Indexes are built once into bench/.cache/ (bench/corpora.py). Results: bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corpora import CACHE, DATA, ROOT, Corpus, prepare, read_jsonl, read_qrels

from answer import QuestionAnswerer
from api import wiring
from index import Store
from retrieve import MODES, Retriever
from training.data import split_of

SETS = ("squad_v1.1", "squad_v2.0_cs224n_dev", "scifact_beir")
ANSWERED_TARGET = 0.85


def sample(queries: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    if not limit or limit >= len(queries):
        return queries
    return random.Random(13).sample(queries, limit)


def ranked_ids(corpus: Corpus, retriever: Retriever, query: str, mode: str, k: int) -> list[str]:
    """Corpus ids of the best documents, best first, at most k (chunks of one document
    count once, at their best rank)."""
    passages = retriever.search(query, min(3 * k, 100), mode)  # type: ignore[arg-type]
    ids = dict.fromkeys(corpus.corpus_id(p.source) for p in passages)
    return list(ids)[:k]


def retrieval(
    corpus: Corpus,
    retriever: Retriever,
    queries: list[dict[str, Any]],
    relevant: Callable[[dict[str, Any]], dict[str, int]],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in MODES:
        hits = {1: 0, 5: 0, 10: 0}
        rr = ndcg = 0.0
        started = time.perf_counter()
        for query in queries:
            gold = relevant(query)
            ranked = ranked_ids(corpus, retriever, query["text"], mode, 10)
            first = next((r for r, doc in enumerate(ranked, 1) if doc in gold), None)
            for k in hits:
                hits[k] += first is not None and first <= k
            rr += 1 / first if first else 0.0
            dcg = sum(gold.get(doc, 0) / math.log2(r + 1) for r, doc in enumerate(ranked, 1))
            ideal = sum(
                g / math.log2(r + 1)
                for r, g in enumerate(sorted(gold.values(), reverse=True)[:10], 1)
            )
            ndcg += dcg / ideal if ideal else 0.0
        n = len(queries)
        out[mode] = {
            "recall@1": round(hits[1] / n, 4),
            "recall@5": round(hits[5] / n, 4),
            "recall@10": round(hits[10] / n, 4),
            "mrr@10": round(rr / n, 4),
            "ndcg@10": round(ndcg / n, 4),
            "ms_per_query": round((time.perf_counter() - started) * 1000 / n, 2),
        }
        print(corpus.name, mode, out[mode], flush=True)
    return out


def normalize(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


class Texts:
    """Document texts from the store, for checking invariant 1."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._texts: dict[str, str] = {}

    def get(self, document_id: str) -> str:
        if document_id not in self._texts:
            self._texts[document_id] = self.store.document_text(document_id)
        return self._texts[document_id]


def answers(
    corpus: Corpus, qa: QuestionAnswerer, queries: list[dict[str, Any]], texts: Texts
) -> dict[str, Any]:
    contained = precise = cited = answered = exact = 0
    sentences = 0
    for query in queries:
        answer = qa.ask(query["text"])
        if answer.abstained:
            continue
        answered += 1
        sentences += len(answer.sentences)
        body = normalize(re.sub(r"\[\d+\]", "", answer.answer))
        contained += any(normalize(gold) in body for gold in query["answers"])
        for citation in answer.citations:
            cited += 1
            precise += corpus.corpus_id(citation.source) == query["gold_paragraph"]
            exact += (
                texts.get(citation.document_id)[citation.start : citation.end] == citation.quote
            )
    n = len(queries)
    return {
        "questions": n,
        "answered": round(answered / n, 4),
        "answer_containment": round(contained / n, 4),
        "answer_containment_of_answered": round(contained / max(answered, 1), 4),
        "citation_precision": round(precise / max(cited, 1), 4),
        "citations": cited,
        "invariant_1_holds": round(exact / max(cited, 1), 4),
        "sentences_per_answer": round(sentences / max(answered, 1), 2),
    }


def evidence(qa: QuestionAnswerer, question: str) -> float:
    """The extractive answerer's best score for `question` (0 when nothing qualifies), with
    the relevance gate of QuestionAnswerer applied first."""
    retrieval = qa.retriever.retrieve(question, qa.top_k)
    if not any(p.similarity >= qa.min_relevance for p in retrieval.passages):
        return 0.0
    scored = qa.extractive.score(question, retrieval.passages)
    return scored[0].score if scored else 0.0


def calibrate(scores: list[tuple[float, bool]]) -> float:
    """The threshold with the best balanced accuracy of answering answerable questions and
    declining unanswerable ones."""
    grid = [t / 100 for t in range(1, 100)]
    rates = [abstention_rates(scores, t) for t in grid]
    best = max(
        range(len(grid)),
        key=lambda i: rates[i]["unanswerable_declined"] + rates[i]["answerable_answered"],
    )
    return grid[best]


def abstention_rates(scores: list[tuple[float, bool]], threshold: float) -> dict[str, Any]:
    impossible = [s for s, imp in scores if imp]
    possible = [s for s, imp in scores if not imp]
    return {
        "unanswerable": len(impossible),
        "answerable": len(possible),
        "unanswerable_declined": round(
            sum(s < threshold for s in impossible) / max(len(impossible), 1), 4
        ),
        "answerable_answered": round(
            sum(s >= threshold for s in possible) / max(len(possible), 1), 4
        ),
    }


def held_out(name: str, queries: list[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """The questions whose gold paragraph belongs to an article of `split`."""
    titles = {p["_id"]: p["title"] for p in read_jsonl(DATA / name / "corpus.jsonl")}
    v2 = {p["title"] for p in read_jsonl(DATA / "squad_v2.0_cs224n_dev" / "corpus.jsonl")}
    return [
        q
        for q in queries
        if split_of(titles[q["gold_paragraph"]], titles[q["gold_paragraph"]] in v2) == split
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=0, help="sample N questions per set (0 = all)")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument(
        "--answers-only",
        action="store_true",
        help="skip retrieval figures (the reading models do not change them)",
    )
    parser.add_argument(
        "--database-url",
        help="measure on PostgreSQL stores: a URL whose database name gets each set's name "
        "appended (postgresql+psycopg://cited:cited@127.0.0.1/cited_bench -> "
        "cited_bench_squad_v1_1; create those databases first)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/quality.json")
    args = parser.parse_args()
    result: dict[str, Any] = {
        "limit": args.limit,
        "data": str(DATA),
        "cache": str(CACHE),
        "store": "postgresql" if args.database_url else "sqlite",
    }

    for name in args.sets.split(","):
        if args.answers_only and name == "scifact_beir":
            continue
        corpus = prepare(name, args.database_url)
        settings = corpus.settings
        store = wiring.open_store(settings)
        kb = wiring.knowledge_base(settings, store)
        retriever = wiring.retriever(settings, kb, wiring.embedder(settings))
        qa = wiring.question_answerer(settings, retriever)
        started = time.perf_counter()
        if name == "squad_v1.1":
            queries = sample(corpus.queries, args.limit)
            test = held_out(name, queries, "test")
            result[name] = {
                "extractive_held_out_articles": answers(corpus, qa, test, Texts(store)),
            }
            if not args.answers_only:
                result[name]["retrieval"] = retrieval(
                    corpus, retriever, queries, lambda q: {q["gold_paragraph"]: 1}
                )
        elif name == "squad_v2.0_cs224n_dev":
            queries = sample(corpus.queries, args.limit)
            calib = held_out(name, queries, "calib")
            test = held_out(name, queries, "test")
            threshold = qa.extractive.threshold
            tune = [(evidence(qa, q["text"]), bool(q["is_impossible"])) for q in calib]
            held = [(evidence(qa, q["text"]), bool(q["is_impossible"])) for q in test]
            pipeline_threshold = calibrate(tune)
            answerable = [q for q in test if not q["is_impossible"]]
            result[name] = {
                "configured_threshold": threshold,
                "test_articles": abstention_rates(held, threshold),
                "test_articles_answerable": answers(corpus, qa, answerable, Texts(store)),
                "pipeline_calibrated_threshold_on_calib_articles": pipeline_threshold,
                "test_articles_at_pipeline_threshold": abstention_rates(held, pipeline_threshold),
            }
        else:
            qrels = read_qrels(DATA / name / "qrels" / "test.tsv")
            queries = sample([q for q in corpus.queries if q["_id"] in qrels], args.limit)
            result[name] = {
                "retrieval": retrieval(
                    corpus, retriever, queries, lambda q, qrels=qrels: qrels[q["_id"]]
                )
            }
        result[name]["seconds"] = round(time.perf_counter() - started, 1)
        print(name, json.dumps(result[name], indent=2), flush=True)
        store.close()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
