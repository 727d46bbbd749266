"""Calibrates the extractive answer decision across kinds of text, not on SQuAD alone.

The decision has two numbers, both written into the answer model's manifest entry:

- `threshold`: the least best P(answers) with which cited answers at all (under it, it
  abstains);
- `keep_ratio`: which further sentences join the best one (those with a P(answers) of at
  least keep_ratio times the best, up to CITED_ANSWER_SENTENCES).

They are chosen on the *calibration* documents of bench/kinds (interview transcripts,
essays, meeting notes, policies, another project's docs: five kinds written by others,
split by document), by the same pipeline the server runs (ingestion, retrieval, the
relevance floor, the answer model's shortlist and scores), as the pair that handles the
most questions correctly on the mean of the kinds, every kind weighing the same (ties:
the better worst kind, then the higher threshold). The test documents are only reported.
SQuAD 2.0's calib articles, where the threshold was calibrated before, are reported at the
chosen threshold by training.evaluate.

    .venv/bin/python -m training.calibrate [--weights answer/weights]
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from answer.extractive import ExtractiveAnswerer
from answer.models import BUNDLED, MANIFEST, WEIGHTS, PairScorer
from api import wiring
from api.settings import Settings
from index import Scope
from ingest import LogProgress
from training.data import read_jsonl

ROOT = Path(__file__).resolve().parent.parent
KINDS_DIR = ROOT / "bench" / "kinds"
KINDS = ("transcripts", "essays", "meetings", "policies", "docs")
THRESHOLDS = tuple(round(0.02 * i, 2) for i in range(1, 40))  # 0.02 .. 0.78
KEEP_RATIOS = (1.0, 0.85, 0.7, 0.5, 0.3, 0.0)
MAX_SENTENCES = 3  # CITED_ANSWER_SENTENCES' default


def flat(text: str) -> str:
    return " ".join(text.lower().split())


def contains(text: str, phrases: Sequence[str]) -> bool:
    said = flat(text)
    return any(flat(p) in said for p in phrases)


@dataclass(frozen=True)
class Asked:
    kind: str
    split: str
    expect: tuple[str, ...] | None  # None: the documents do not answer it
    scored: tuple[tuple[float, str], ...]  # (P(answers), sentence), best first; () abstains


def collect(weights: Path, work: Path) -> list[Asked]:
    """Every bench/kinds question through retrieval and the answer model at `weights`."""
    settings = Settings(data_dir=work)
    store = wiring.open_store(settings)
    try:
        kb = wiring.knowledge_base(settings, store)
        embedder = wiring.embedder(settings)
        ingestor = wiring.ingestor(settings, kb, embedder, LogProgress())
        for kind in KINDS:
            report = ingestor.run([KINDS_DIR / kind], kind, prune=True)
            if report.failed:
                raise SystemExit(f"{len(report.failed)} {kind} files failed to ingest")
        kb.flush()
        retriever = wiring.retriever(settings, kb, embedder)
        answerer = ExtractiveAnswerer(PairScorer("answer", BUNDLED, weights))
        out = []
        for row in read_jsonl(KINDS_DIR / "questions.jsonl"):
            passages = retriever.retrieve(
                row["question"], settings.top_k, scope=Scope(collection=row["kind"])
            ).passages
            relevant = any(p.similarity >= settings.min_relevance for p in passages)
            scored = answerer.score(row["question"], passages) if relevant else []
            expect = row["expect"]
            out.append(
                Asked(
                    row["kind"],
                    row["split"],
                    None if expect is None else tuple(expect),
                    tuple((s.score, s.text) for s in scored),
                )
            )
        return out
    finally:
        store.close()


def outcome(asked: Asked, threshold: float, keep_ratio: float) -> tuple[bool, bool]:
    """(abstained, correct), as ExtractiveAnswerer.extract decides."""
    if not asked.scored or asked.scored[0][0] < threshold:
        return True, asked.expect is None
    best = asked.scored[0][0]
    chosen = [t for p, t in asked.scored if p >= max(threshold, keep_ratio * best)]
    said = " ".join(chosen[:MAX_SENTENCES])
    return False, asked.expect is not None and contains(said, asked.expect)


def figures(asked: Sequence[Asked], threshold: float, keep_ratio: float) -> dict[str, Any]:
    results = [(a, *outcome(a, threshold, keep_ratio)) for a in asked]
    answerable = [r for r in results if r[0].expect is not None]
    unanswerable = [r for r in results if r[0].expect is None]

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 3) if whole else None

    return {
        "questions": len(results),
        "correct": share(sum(c for _, _, c in results), len(results)),
        "answerable_declined": share(sum(a for _, a, _ in answerable), len(answerable)),
        "unanswerable_declined": share(sum(a for _, a, _ in unanswerable), len(unanswerable)),
    }


def per_kind(asked: Sequence[Asked], split: str, threshold: float, keep: float) -> dict[str, Any]:
    return {
        kind: figures([a for a in asked if a.kind == kind and a.split == split], threshold, keep)
        for kind in KINDS
    }


def choose(asked: Sequence[Asked]) -> tuple[float, float]:
    def merit(rule: tuple[float, float]) -> tuple[float, float, float]:
        kinds = per_kind(asked, "calibration", *rule)
        scores = [k["correct"] or 0.0 for k in kinds.values()]
        return (round(sum(scores) / len(scores), 4), min(scores), rule[0])

    rules = [(t, k) for t in THRESHOLDS for k in KEEP_RATIOS]
    return max(rules, key=merit)


def write(weights: Path, threshold: float, keep_ratio: float) -> None:
    path = weights / MANIFEST.name
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["answer"]["threshold"] = threshold
    manifest["answer"]["keep_ratio"] = keep_ratio
    manifest["answer"]["calibrated_on"] = "bench/kinds calibration split"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--work", type=Path, default=ROOT / ".training" / "kinds")
    parser.add_argument("--dry-run", action="store_true", help="report, write nothing")
    args = parser.parse_args(argv)
    logging.getLogger("ingest").setLevel(logging.WARNING)
    asked = collect(args.weights, args.work)
    threshold, keep_ratio = choose(asked)
    if not args.dry_run:
        write(args.weights, threshold, keep_ratio)
    result = {
        "threshold": threshold,
        "keep_ratio": keep_ratio,
        **{
            split: per_kind(asked, split, threshold, keep_ratio)
            for split in ("calibration", "test")
        },
    }
    print(render(result), flush=True)
    return result


def render(result: dict[str, Any]) -> str:
    """The per-kind table `make models` prints."""
    lines = [
        f"answer decision across kinds: threshold {result['threshold']}, "
        f"keep_ratio {result['keep_ratio']}",
        "| split | kind | questions | correct | answerable declined | unanswerable declined |",
        "|---|---|---|---|---|---|",
    ]
    for split in ("calibration", "test"):
        for kind, f in result[split].items():
            lines.append(
                f"| {split} | {kind} | {f['questions']} | {f['correct']} | "
                f"{f['answerable_declined']} | {f['unanswerable_declined']} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
