"""Five kinds of text written by others, neither Wikipedia nor cited's own docs: interview
transcripts, essays, meeting notes, policies and another project's documentation
(bench/kinds/<kind>/, sources and licences in bench/kinds/SOURCES.md), with questions as
people ask them (bench/kinds/questions.jsonl): answerable ones, each with `expect` (short
phrases, one of which a correct answer contains) and `source`, and ones the kind's documents
do not answer (`expect` null). Whole documents are assigned to the "calibration" or the
"test" split, so that a decision rule chosen on one is reported on documents it never saw.

Each kind is ingested once with the default settings into its own collection of
bench/.cache/kinds/; the question answerer is the server's (api.wiring, extractive mode),
asked every question without history within the kind's collection. A question is correct
when it is answerable, answered, and the answer's text contains an `expect` phrase (case
and spacing aside), or when it is unanswerable and declined. For each answerable question,
`retrieved` says whether an expected phrase is in any of the top-k passages, which tells
retrieval misses (not retrieved) from judgement misses (retrieved, not answered right).

For choosing a decision rule later, bench/results/kinds.json keeps per question the
passages' similarities and the answer model's candidates (`ExtractiveAnswerer.score` on
the same passages: the P(answers) the decision was made on, best first, each marked
whether it contains an expected phrase). It is not a simulation of other thresholds: the
support check that follows may still drop sentences.

    .venv/bin/python bench/kinds.py [--split calibration|test|all] [--kinds docs,essays]

Deliberately not done: generative mode (it needs a language model), follow-up questions
(bench/conversations.py), judging which sentence was cited (the answer's text is what a
user reads).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from corpora import CACHE, ROOT, read_jsonl

from answer import Answer, QuestionAnswerer
from answer.evaluation import from_source
from answer.types import FinalEvent, PassagesEvent
from api import wiring
from api.settings import Settings
from index import KnowledgeBase, Scope
from ingest import LogProgress
from retrieve import Passage
from training.calibrate import contains

HERE = ROOT / "bench" / "kinds"
KINDS = ("transcripts", "essays", "meetings", "policies", "docs")
SPLITS = ("calibration", "test")
CANDIDATES = 5  # candidates kept per question in the results
HEAD = 200  # characters of an answer kept in the results
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class Candidate:
    score: float  # P(the sentence answers the question)
    passage: int  # rank of its passage, 0 = best
    text: str
    expected: bool | None  # contains an expected phrase (None: unanswerable question)


@dataclass(frozen=True)
class Asked:
    kind: str
    split: str
    source: str | None
    question: str
    expect: list[str] | None
    abstained: bool
    reason_code: str | None
    answer_head: str
    correct: bool
    retrieved: bool | None  # an expected phrase is in a retrieved passage
    source_retrieved: bool | None  # a passage of `source` was retrieved
    best: float | None  # the best candidate's P(answers); None: no candidate
    similarities: list[float]  # cosine of each retrieved passage, best rank first
    candidates: list[Candidate]


def ask(qa: QuestionAnswerer, row: dict[str, Any]) -> Asked:
    expect: list[str] | None = row["expect"]
    passages: tuple[Passage, ...] = ()
    answer: Answer | None = None
    for event in qa.stream(row["question"], scope=Scope(collection=row["kind"])):
        if isinstance(event, PassagesEvent):
            passages = tuple(event.passages)
        elif isinstance(event, FinalEvent):
            answer = event.answer
    assert answer is not None, "an answer stream always ends with a final event"
    scored = qa.extractive.score(row["question"], passages) if passages else []
    candidates = [
        Candidate(
            round(s.score, 4),
            s.passage,
            s.text,
            None if expect is None else contains(s.text, expect),
        )
        for s in scored[:CANDIDATES]
    ]
    if expect is None:
        correct = answer.abstained
    else:
        correct = not answer.abstained and contains(answer.answer, expect)
    source = row["source"]
    return Asked(
        kind=row["kind"],
        split=row["split"],
        source=source,
        question=row["question"],
        expect=expect,
        abstained=answer.abstained,
        reason_code=answer.reason_code,
        answer_head=answer.answer[:HEAD],
        correct=correct,
        retrieved=None if expect is None else any(contains(p.text, expect) for p in passages),
        source_retrieved=None
        if source is None
        else any(from_source(p.source, source) for p in passages),
        best=round(scored[0].score, 4) if scored else None,
        similarities=[round(p.similarity, 4) for p in passages],
        candidates=candidates,
    )


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(asked: Sequence[Asked]) -> dict[str, Any]:
    answerable = [a for a in asked if a.expect is not None]
    unanswerable = [a for a in asked if a.expect is None]
    retrieved = [a for a in answerable if a.retrieved]
    return {
        "questions": len(asked),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "correct": share(sum(a.correct for a in asked), len(asked)),
        "answerable_correct": share(sum(a.correct for a in answerable), len(answerable)),
        "answerable_declined": share(sum(a.abstained for a in answerable), len(answerable)),
        "answerable_wrong": share(
            sum(not a.abstained and not a.correct for a in answerable), len(answerable)
        ),
        "unanswerable_declined": share(sum(a.abstained for a in unanswerable), len(unanswerable)),
        "retrieved": share(len(retrieved), len(answerable)),
        "correct_when_retrieved": share(sum(a.correct for a in retrieved), len(retrieved)),
    }


def quantiles(values: Sequence[float]) -> list[float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return [round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) for q in QUANTILES]


def auc(positive: Sequence[float], negative: Sequence[float]) -> float | None:
    """P(a positive's score > a negative's), ties counting half (Mann-Whitney)."""
    if not positive or not negative:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return round(wins / (len(positive) * len(negative)), 3)


def separation(asked: Sequence[Asked]) -> dict[str, Any]:
    """Best P(answers) of the answerable questions whose answer was retrieved against the
    unanswerable ones: can a threshold tell them apart?"""
    found = [a.best or 0.0 for a in asked if a.retrieved]
    unanswerable = [a.best or 0.0 for a in asked if a.expect is None]
    return {
        "answerable_retrieved": {"n": len(found), "quantiles": quantiles(found)},
        "unanswerable": {"n": len(unanswerable), "quantiles": quantiles(unanswerable)},
        "auc": auc(found, unanswerable),
    }


def summary(asked: Sequence[Asked]) -> dict[str, Any]:
    by: dict[tuple[str, str], list[Asked]] = defaultdict(list)
    for a in asked:
        for kind in (a.kind, "all"):
            for split in (a.split, "all"):
                by[kind, split].append(a)
    kinds = [k for k in (*KINDS, "all") if (k, "all") in by]
    return {
        kind: {
            split: {**figures(by[kind, split]), "best_p": separation(by[kind, split])}
            for split in (*SPLITS, "all")
            if (kind, split) in by
        }
        for kind in kinds
    }


def pct(x: float | None) -> str:
    return "    -" if x is None else f"{100 * x:4.0f}%"


def render(result: dict[str, Any], threshold: float) -> str:
    lines = [
        f"{'kind':<12}{'split':<12}{'ans':>4}{'un':>4}{'correct':>8}{'ans ok':>8}"
        f"{'ans no':>8}{'ans bad':>8}{'un no':>7}{'retr':>7}{'ok|retr':>8}"
    ]
    for kind, splits in result.items():
        for split, f in splits.items():
            lines.append(
                f"{kind:<12}{split:<12}{f['answerable']:>4}{f['unanswerable']:>4}"
                f"{pct(f['correct']):>8}{pct(f['answerable_correct']):>8}"
                f"{pct(f['answerable_declined']):>8}{pct(f['answerable_wrong']):>8}"
                f"{pct(f['unanswerable_declined']):>7}{pct(f['retrieved']):>7}"
                f"{pct(f['correct_when_retrieved']):>8}"
            )
    lines += [
        "",
        f"best P(answers), quantiles {', '.join(f'{q:g}' for q in QUANTILES)} "
        f"(threshold {threshold:.2f}); AUC answerable-retrieved vs unanswerable",
    ]
    for kind, splits in result.items():
        b = splits["all"]["best_p"]
        for group in ("answerable_retrieved", "unanswerable"):
            q = b[group]["quantiles"]
            shown = " ".join(f"{v:5.2f}" for v in q) if q else "-"
            tail = f"  AUC {b['auc']}" if group == "unanswerable" and b["auc"] else ""
            lines.append(f"{kind:<12}{group:<22}{b[group]['n']:>4}  {shown}{tail}")
    return "\n".join(lines)


def unfound_phrases(kb: KnowledgeBase, kind: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Answerable questions none of whose phrases is in the stored text of their source (a
    question to fix, not a miss of cited's)."""
    texts = {source: kb.document_text(doc.id) for source, doc in kb.known_documents(kind).items()}
    problems = []
    for row in rows:
        if row["kind"] != kind or row["expect"] is None:
            continue
        text = next((t for s, t in texts.items() if from_source(s, row["source"])), None)
        if text is None:
            problems.append(f"{row['source']}: not ingested ({row['question']!r})")
        elif not contains(text, row["expect"]):
            problems.append(f"{row['source']}: {row['expect']} not in it ({row['question']!r})")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/kinds.json")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    rows = [
        r
        for r in read_jsonl(HERE / "questions.jsonl")
        if r["kind"] in kinds and args.split in ("all", r["split"])
    ]
    settings = Settings(data_dir=CACHE / "kinds")
    store = wiring.open_store(settings)
    try:
        kb = wiring.knowledge_base(settings, store)
        embedder = wiring.embedder(settings)
        ingestor = wiring.ingestor(settings, kb, embedder, LogProgress())
        problems = []
        for kind in kinds:
            report = ingestor.run([HERE / kind], kind, prune=True)
            if report.failed:
                raise SystemExit(f"{len(report.failed)} {kind} files failed to ingest")
            kb.flush()
            problems += unfound_phrases(kb, kind, rows)
        if problems:
            raise SystemExit("questions to fix:\n  " + "\n  ".join(problems))
        qa = wiring.question_answerer(settings, wiring.retriever(settings, kb, embedder))
        qa.warm_up()
        asked = [ask(qa, row) for row in rows]
        threshold = qa.extractive.threshold
    finally:
        store.close()
    result = summary(asked)
    print(render(result, threshold))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings_used = {
        "answer_mode": settings.answer_mode,
        "top_k": settings.top_k,
        "min_relevance": settings.min_relevance,
        "abstain_threshold": threshold,
        "split": args.split,
        "kinds": kinds,
    }
    args.out.write_text(
        json.dumps(
            {"settings": settings_used, "summary": result, "asked": [asdict(a) for a in asked]},
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
