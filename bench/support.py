"""The support check against claim/evidence pairs people labelled: does it pass the pairs
whose evidence supports the claim, and refuse the others, above all the contradictions?

- scifact: ../shared/data/scifact_claims/scifact_rationale.jsonl, the claim against its
  rationale sentence(s): SUPPORTED / CONTRADICTED / UNSUPPORTED (evaluation only: SciFact
  is non-commercial, never training data).
- begin: ../shared/data/train/begin/test.jsonl, a dialogue response against its knowledge
  snippet: "Fully attributable" is SUPPORTED, the rest ("Not fully attributable",
  "Generic") UNSUPPORTED.
- wice: ../shared/data/train/wice/claim_test.jsonl, a Wikipedia claim against sentences of
  the page it cites (those marked as supporting, else the three most word-overlapping, as a
  retrieved chunk would be): "supported" is SUPPORTED, "partially_supported" and
  "not_supported" UNSUPPORTED.

For each pair: whether the product's check passes it (answer.support.SupportChecker: the
claim's numbers and names in the quote, then cosine similarity over a threshold), its score
(the quote's support when it passes, else 0), and the raw cosine of the claim and its best
candidate quote with no veto. Reported: balanced accuracy of the pass decision (SUPPORTED vs
the rest), ROC AUC of both scores for SUPPORTED vs the rest and SUPPORTED vs CONTRADICTED,
and pairs checked per second. Results: bench/results/support.json.

    .venv/bin/python bench/support.py [--limit N] [--sets a,b] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from answer.support import SupportChecker, VectorCache  # noqa: E402
from index import SentenceTransformerEmbedder  # noqa: E402
from ingest import offline  # noqa: E402
from retrieve import Passage  # noqa: E402

SETS = ("scifact", "begin", "wice")
Pair = tuple[str, str, str]  # (evidence, claim, label)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def pairs(name: str) -> list[Pair]:
    if name == "scifact":
        rows = read_jsonl(DATA / "scifact_claims" / "scifact_rationale.jsonl")
        return [(r["passage"], r["claim"], r["label"]) for r in rows]
    if name == "begin":
        rows = read_jsonl(DATA / "train" / "begin" / "test.jsonl")
        return [
            (
                r["knowledge"],
                r["response"],
                "SUPPORTED" if r["label"] == "Fully attributable" else "UNSUPPORTED",
            )
            for r in rows
        ]
    if name == "wice":
        rows = read_jsonl(DATA / "train" / "wice" / "claim_test.jsonl")
        return [
            (
                wice_evidence(r),
                r["claim"],
                "SUPPORTED" if r["label"] == "supported" else "UNSUPPORTED",
            )
            for r in rows
        ]
    raise SystemExit(f"unknown set {name!r}; known: {', '.join(SETS)}")


def wice_evidence(row: dict[str, Any]) -> str:
    """A passage of the cited page, as retrieval would hand the check a chunk, not the whole
    page: the sentences annotators marked as (partly) supporting, else the three sentences
    sharing the most words with the claim."""
    sentences = row["evidence"]
    marked = sorted({i for group in row.get("supporting_sentences") or [] for i in group})
    if not marked:
        words = set(row["claim"].lower().split())
        overlap = [
            (len(words & set(s.lower().split())), i)
            for i, s in enumerate(sentences)
            if not s.startswith("(meta data)")
        ]
        marked = sorted(i for _, i in sorted(overlap, reverse=True)[:3])
    return " ".join(sentences[i] for i in marked)


def as_passage(text: str) -> Passage:
    return Passage(
        chunk_id=0,
        document_id="bench",
        collection="bench",
        title="",
        source="bench",
        page=None,
        section=None,
        start=0,
        end=len(text),
        text=text,
        score=1.0,
        similarity=1.0,
    )


def auc(positive: list[float], negative: list[float]) -> float | None:
    """ROC AUC of scores separating the positives from the negatives (ties count half)."""
    if not positive or not negative:
        return None
    scores = np.array(positive + negative)
    order = scores.argsort(kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    wins = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return round(float(wins / (len(positive) * len(negative))), 4)


def measure(
    name: str, data: list[Pair], checker: SupportChecker, cache: VectorCache
) -> dict[str, Any]:
    passed: list[bool] = []
    score: list[float] = []
    cosine: list[float] = []
    started = time.perf_counter()
    for evidence, claim, _ in data:
        passage = as_passage(evidence)
        verdict = checker.check(claim, passage, cache)
        passed.append(verdict.quote is not None)
        score.append(verdict.quote.support if verdict.quote is not None else 0.0)
        singles, pairs_ = checker.candidates(passage)
        spans = singles + pairs_
        if spans:
            vectors = cache.get([claim, *(evidence[s:e] for s, e in spans)])
            cosine.append(float(np.max(vectors[1:] @ vectors[0])))
        else:
            cosine.append(0.0)
    seconds = time.perf_counter() - started
    labels = [label for _, _, label in data]
    supported = [i for i, label in enumerate(labels) if label == "SUPPORTED"]
    others = [i for i, label in enumerate(labels) if label != "SUPPORTED"]
    contradicted = [i for i, label in enumerate(labels) if label == "CONTRADICTED"]
    recall_supported = sum(passed[i] for i in supported) / max(len(supported), 1)
    refused_others = sum(not passed[i] for i in others) / max(len(others), 1)
    result: dict[str, Any] = {
        "pairs": len(data),
        "labels": dict(Counter(labels)),
        "passed_share_by_label": {
            label: round(sum(passed[i] for i, x in enumerate(labels) if x == label) / n, 4)
            for label, n in Counter(labels).items()
        },
        "balanced_accuracy_supported_vs_rest": round((recall_supported + refused_others) / 2, 4),
        "auc_supported_vs_rest": {
            "check_score": auc([score[i] for i in supported], [score[i] for i in others]),
            "raw_cosine": auc([cosine[i] for i in supported], [cosine[i] for i in others]),
        },
        "pairs_per_s": round(len(data) / seconds, 1),
    }
    if contradicted:
        result["auc_supported_vs_contradicted"] = {
            "check_score": auc([score[i] for i in supported], [score[i] for i in contradicted]),
            "raw_cosine": auc([cosine[i] for i in supported], [cosine[i] for i in contradicted]),
        }
    print(name, json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=0, help="a random N pairs of each set")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/support.json")
    args = parser.parse_args()
    offline.set_environment()
    embedder = SentenceTransformerEmbedder()
    checker = SupportChecker()
    results: dict[str, Any] = {
        "checker": {
            "kind": "cosine + number/name veto",
            "threshold": checker.threshold,
            "model": embedder.model_name,
        }
    }
    for name in args.sets.split(","):
        data = pairs(name)
        if args.limit:
            data = random.Random(0).sample(data, min(args.limit, len(data)))
        results[name] = measure(name, data, checker, VectorCache(embedder))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
