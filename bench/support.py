"""The support check against claim/evidence pairs people labelled: does it pass the pairs
whose evidence supports the claim, and refuse the others, above all the contradictions?

Sets (training.evaluate.support_sets; none is trained on):
- scifact: ../shared/data/scifact_claims/scifact_rationale.jsonl, the claim against its
  rationale sentence(s): supported / contradicted / not enough info (evaluation only:
  SciFact is non-commercial, never training data).
- begin: ../shared/data/train/begin/test.jsonl, a dialogue response against its knowledge
  snippet: "Fully attributable" is supported, the rest not enough info.
- wice: ../shared/data/train/wice/claim_test.jsonl, a Wikipedia claim against sentences of
  the page it cites (those marked as supporting, else the three most word-overlapping, as a
  retrieved chunk would be): "supported" is supported, the rest not enough info.

Each evidence text is handed to the product's check (answer.support.SupportChecker, as
configured: number/name veto, then the support model over the candidate quotes) as one
passage. Reported per set: the share passed by label, balanced accuracy of passing
(supported vs the rest), ROC AUC of the check's score (the quote's support when it passes,
else P(supported) of the best quote, 0 when vetoed) for supported vs the rest and vs
contradicted, and pairs checked per second. Results: bench/results/support.json.

    .venv/bin/python bench/support.py [--limit N] [--sets a,b] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from answer.models import WEIGHTS, PairScorer  # noqa: E402
from answer.support import SupportChecker  # noqa: E402
from ingest import offline  # noqa: E402
from retrieve import Passage  # noqa: E402
from training.evaluate import auc, balanced, support_sets  # noqa: E402

Pair = tuple[str, str, str]  # (evidence, claim, label)


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


def measure(name: str, data: list[Pair], checker: SupportChecker) -> dict[str, Any]:
    started = time.perf_counter()
    verdicts = []
    for start in range(0, len(data), 8):  # as an answer's sentences are checked together
        batch = data[start : start + 8]
        verdicts += checker.check_many([(claim, as_passage(ev)) for ev, claim, _ in batch])
    seconds = time.perf_counter() - started
    passed = [v.quote is not None for v in verdicts]
    score = [v.quote.support if v.quote is not None else 0.0 for v in verdicts]
    labels = [label for _, _, label in data]
    counts = Counter(labels)
    gated = Counter(x for v, x in zip(verdicts, labels, strict=True) if v.gate)
    result: dict[str, Any] = {
        "pairs": len(data),
        "labels": dict(counts),
        # refused by the number/name gate before the model read them, by label
        "gate_refused_by_label": dict(gated),
        "multi_quote_passed": sum(1 for v in verdicts if v.also),
        "passed_share_by_label": {
            label: round(sum(p for p, x in zip(passed, labels, strict=True) if x == label) / n, 4)
            for label, n in counts.items()
        },
        "balanced_accuracy_supported_vs_rest": balanced(
            ["s" if x == "supported" else "r" for x in labels],
            ["s" if p else "r" for p in passed],
        ),
        "auc_supported_vs_rest": auc(
            [s for s, x in zip(score, labels, strict=True) if x == "supported"],
            [s for s, x in zip(score, labels, strict=True) if x != "supported"],
        ),
        "pairs_per_s": round(len(data) / seconds, 1),
    }
    if "contradicted" in counts:
        result["auc_supported_vs_contradicted"] = auc(
            [s for s, x in zip(score, labels, strict=True) if x == "supported"],
            [s for s, x in zip(score, labels, strict=True) if x == "contradicted"],
        )
    print(name, json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=0, help="a random N pairs of each set")
    parser.add_argument("--sets", default="scifact,begin,wice")
    parser.add_argument("--model", default="bundled", help="CITED_SUPPORT_MODEL to measure")
    parser.add_argument(
        "--weights", type=Path, default=WEIGHTS, help="a folder of trained deltas (training/)"
    )
    parser.add_argument("--threshold", type=float, default=0.5, help="CITED_SUPPORT_THRESHOLD")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/support.json")
    args = parser.parse_args()
    offline.set_environment()
    checker = SupportChecker(
        PairScorer(
            "support", args.model, args.weights, fast_path_dir=ROOT / "bench" / ".cache" / "models"
        ),
        args.threshold,
    )
    results: dict[str, Any] = {
        "checker": {
            "kind": "number/name veto + support model",
            "model": args.model,
            "weights": str(args.weights),
            "threshold": checker.threshold,
            "onnx": checker.model.fast,
        }
    }
    sets = support_sets()
    for name in args.sets.split(","):
        if name not in sets:
            raise SystemExit(f"unknown set {name!r}; known: {', '.join(sets)}")
        data = sets[name]
        if args.limit:
            data = random.Random(0).sample(data, min(args.limit, len(data)))
        results[name] = measure(name, data, checker)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
