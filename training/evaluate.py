"""The reading models' evaluation table, on data they were not trained on.

Support model, each (evidence, claim) pair as labelled:
- SciFact rationale sentences (evaluation only, never trained on): supported /
  contradicted / no evidence; balanced accuracy over the three, AUC of P(supported) for
  supported vs contradicted, and the gate's balanced accuracy (P(supported) >= threshold:
  supported vs the rest);
- BEGIN test and WiCE test: the gate's balanced accuracy, supported vs the rest.

Answer model, on SQuAD articles held out of training (training.data) and SelQA dev:
- the abstention threshold is calibrated on the `calib` articles (the highest that still
  answers ANSWERED of the answerable questions) and written to the manifest; `test` articles measure it: share of answerable questions answered, of
  unanswerable ones declined, and how often the chosen sentence contains a gold answer;
- SelQA dev: mean reciprocal rank of the first answering sentence.
The candidates are the sentences of the gold paragraph (the reading task alone);
bench/quality.py measures the whole pipeline, retrieval included.

    .venv/bin/python -m training.evaluate [--weights DIR] [answer] [support]
"""

from __future__ import annotations

import argparse
import json
import re
import string
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from answer.extractive import answer_pair as candidate_text
from answer.models import BUNDLED, MANIFEST, WEIGHTS, PairScorer
from training.answer_set import (
    FAQ,
    faq_answers,
    faq_pages,
    friends_questions,
    friends_scenes,
    sentences_of,
)
from training.data import DATA, SETS, Question, read_jsonl, selqa, squad
from training.support_set import wice_evidence

ROOT = Path(__file__).resolve().parent.parent
GATE = 0.5  # P(supported) at or above which the support gate passes


def auc(positive: Sequence[float], negative: Sequence[float]) -> float | None:
    """ROC AUC (ties count half)."""
    if not positive or not negative:
        return None
    pos = np.asarray(positive)[:, None]
    neg = np.asarray(negative)[None, :]
    return round(float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size)), 4)


def balanced(truth: Sequence[str], guess: Sequence[str]) -> float:
    recalls = []
    for label in sorted(set(truth)):
        rows = [i for i, t in enumerate(truth) if t == label]
        recalls.append(sum(guess[i] == label for i in rows) / len(rows))
    return round(float(np.mean(recalls)), 4)


def support_sets() -> dict[str, list[tuple[str, str, str]]]:
    """(evidence, claim, label) per evaluation set; labels supported / contradicted /
    not_enough_info."""
    scifact = {"SUPPORTED": "supported", "CONTRADICTED": "contradicted"}
    sets = {
        "scifact": [
            (r["passage"], r["claim"], scifact.get(r["label"], "not_enough_info"))
            for r in read_jsonl(DATA / "scifact_claims" / "scifact_rationale.jsonl")
        ],
        "begin": [
            (
                r["knowledge"],
                r["response"],
                "supported" if r["label"] == "Fully attributable" else "not_enough_info",
            )
            for r in read_jsonl(DATA / "train" / "begin" / "test.jsonl")
        ],
        "wice": [
            (
                wice_evidence(r),
                r["claim"],
                "supported" if r["label"] == "supported" else "not_enough_info",
            )
            for r in read_jsonl(DATA / "train" / "wice" / "claim_test.jsonl")
        ],
    }
    anli = [SETS / "anli" / f"dev_{round_}.jsonl" for round_ in ("r1", "r2", "r3")]
    if all(path.exists() for path in anli):  # CC BY-NC, evaluation only: not in the repository
        sets["anli"] = [
            (r["premise"], r["hypothesis"], _SNLI_NAMES[r["label"]])
            for path in anli
            for r in read_jsonl(path)
        ]
    else:
        print(json.dumps({"skipped": "anli", "make_it": "training/sets/anli/convert.py"}))
    return sets


_SNLI_NAMES = {
    "entailment": "supported",
    "contradiction": "contradicted",
    "neutral": "not_enough_info",
}


def evaluate_support(scorer: PairScorer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, rows in support_sets().items():
        started = time.perf_counter()
        probs = scorer.probabilities([(evidence, claim) for evidence, claim, _ in rows])
        seconds = time.perf_counter() - started
        truth = [label for _, _, label in rows]
        p_sup = scorer.column(probs, "supported")
        gate = ["supported" if p >= GATE else "rest" for p in p_sup]
        binary = ["supported" if t == "supported" else "rest" for t in truth]
        result: dict[str, Any] = {
            "pairs": len(rows),
            "gate_balanced_accuracy": balanced(binary, gate),
            "auc_supported_vs_rest": auc(
                [p for p, t in zip(p_sup, truth, strict=True) if t == "supported"],
                [p for p, t in zip(p_sup, truth, strict=True) if t != "supported"],
            ),
            "pairs_per_s": round(len(rows) / seconds, 1),
        }
        if "contradicted" in truth:
            labels = scorer.labels
            guess = [labels[i] for i in probs.argmax(axis=1)]
            result["balanced_accuracy_3way"] = balanced(truth, guess)
            result["accuracy_3way"] = round(
                sum(t == g for t, g in zip(truth, guess, strict=True)) / len(truth), 3
            )
            result["auc_supported_vs_contradicted"] = auc(
                [p for p, t in zip(p_sup, truth, strict=True) if t == "supported"],
                [p for p, t in zip(p_sup, truth, strict=True) if t == "contradicted"],
            )
        out[name] = result
        print(json.dumps({"support": name, **result}), flush=True)
    return out


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def best_sentences(scorer: PairScorer, questions: list[Question]) -> list[tuple[float, str]]:
    """(P(answers), sentence) of the best sentence of each question's gold paragraph."""
    pairs: list[tuple[str, str]] = []
    owners: list[tuple[int, str]] = []
    for n, q in enumerate(questions):
        sentences = [q.paragraph.context[s:e] for s, e in q.paragraph.sentences]
        for i, sentence in enumerate(sentences):
            pairs.append((q.text, candidate_text(sentences, i)))
            owners.append((n, sentence))
    probs = scorer.column(scorer.probabilities(pairs), "answers")
    best: list[tuple[float, str]] = [(-1.0, "")] * len(questions)
    for (n, sentence), p in zip(owners, probs, strict=True):
        if p > best[n][0]:
            best[n] = (float(p), sentence)
    return best


def contains(sentence: str, answers: Sequence[str]) -> bool:
    return any(normalize(a) in normalize(sentence) for a in answers)


ANSWERED = 0.87  # share of answerable calib questions the threshold must answer (target 0.85)


def calibrate(best: list[tuple[float, str]], questions: list[Question]) -> float:
    """The highest threshold that still answers ANSWERED of the answerable questions: users
    need answers first; among thresholds that give them, decline as much as possible."""
    answerable = sorted(b[0] for b, q in zip(best, questions, strict=True) if not q.impossible)
    allowed = answerable[int((1 - ANSWERED) * len(answerable))]
    return float(np.floor(allowed * 100) / 100)  # rounded down: that question is answered


def abstention(
    best: list[tuple[float, str]], questions: list[Question], threshold: float
) -> dict[str, Any]:
    answered = [b[0] >= threshold for b in best]
    answerable = [i for i, q in enumerate(questions) if not q.impossible]
    impossible = [i for i, q in enumerate(questions) if q.impossible]
    right = [i for i in answerable if answered[i]]
    out: dict[str, Any] = {
        "questions": len(questions),
        "answerable_answered": round(len(right) / max(1, len(answerable)), 4),
        "containment_of_answered": round(
            sum(contains(best[i][1], questions[i].answers) for i in right) / max(1, len(right)), 4
        ),
        "containment_top1": round(
            sum(contains(best[i][1], questions[i].answers) for i in answerable)
            / max(1, len(answerable)),
            4,
        ),
    }
    if impossible:
        out["unanswerable_declined"] = round(
            sum(not answered[i] for i in impossible) / len(impossible), 4
        )
        out["auc_answerable_vs_not"] = auc(
            [best[i][0] for i in answerable], [best[i][0] for i in impossible]
        )
    return out


def selqa_mrr(scorer: PairScorer) -> dict[str, Any]:
    rows = selqa("dev")
    pairs = [
        (row["question"], candidate_text(row["candidates"], i))
        for row in rows
        for i in range(len(row["candidates"]))
    ]
    probs = scorer.column(scorer.probabilities(pairs), "answers")
    ranks: list[float] = []
    at = 0
    for row in rows:
        scores = probs[at : at + len(row["candidates"])]
        at += len(row["candidates"])
        order = list(np.argsort(-scores, kind="stable"))
        first = min(order.index(a) for a in row["answers"]) if row["answers"] else None
        ranks.append(0.0 if first is None else 1.0 / (first + 1))
    return {"questions": len(rows), "mrr": round(float(np.mean(ranks)), 4)}


def ranked(scorer: PairScorer, question: str, candidates: list[str], answers: set[int]) -> float:
    """The reciprocal rank of the first answering candidate."""
    scores = scorer.column(scorer.probabilities([(question, c) for c in candidates]), "answers")
    order = list(np.argsort(-scores, kind="stable"))
    return 1.0 / (min(order.index(a) for a in answers) + 1)


def friends_mrr(scorer: PairScorer) -> dict[str, Any]:
    """Held-out FriendsQA episodes (answer_set.friends_scenes): the sentence holding the
    first answer among the scene's sentences (another annotator's answer sentence counts
    too). Also the share whose best sentence is an answering one."""
    ranks: list[float] = []
    for row in friends_scenes(held_out=True):
        for question, sentences, _, anywhere in friends_questions(row):
            candidates = [candidate_text(sentences, i) for i in range(len(sentences))]
            ranks.append(ranked(scorer, question, candidates, anywhere))
    return {
        "questions": len(ranks),
        "mrr": round(float(np.mean(ranks)), 4),
        "top1": round(float(np.mean([r == 1.0 for r in ranks])), 4),
    }


def faq_mrr(scorer: PairScorer) -> dict[str, Any]:
    """Held-out question headings of documentation and transcripts (answer_set.faq_pages):
    the answering sentences among the section's other sentences and those of the page's
    other sections. Also the share whose best sentence is an answering one."""
    ranks: list[float] = []
    for row in faq_pages(held_out=True):
        sentences, answers = faq_answers(row)
        others = [t for other in row["others"] for t in sentences_of(other)]
        candidates = [candidate_text(sentences, i) for i in range(len(sentences))] + others
        ranks.append(ranked(scorer, row["question"], candidates, answers))
    return {
        "questions": len(ranks),
        "mrr": round(float(np.mean(ranks)), 4),
        "top1": round(float(np.mean([r == 1.0 for r in ranks])), 4),
    }


def evaluate_answer(scorer: PairScorer, weights: Path) -> dict[str, Any]:
    """SQuAD and SelQA figures at the threshold in the manifest (training.calibrate's, chosen
    across kinds of text); the SQuAD-only rule's threshold, the one used before, is reported
    beside it."""
    calib = squad("v2", "calib")
    manifest = json.loads((weights / MANIFEST.name).read_text(encoding="utf-8"))
    threshold = float(manifest["answer"]["threshold"])
    out: dict[str, Any] = {
        "threshold": threshold,
        "threshold_squad_rule": calibrate(best_sentences(scorer, calib), calib),
    }
    versions: tuple[Literal["v2", "v1.1"], ...] = ("v2", "v1.1")
    for version in versions:
        test = squad(version, "test")
        out[f"squad_{version}_test"] = abstention(best_sentences(scorer, test), test, threshold)
        print(json.dumps({"answer": f"squad_{version}_test", **out[f"squad_{version}_test"]}))
    out["selqa_dev"] = selqa_mrr(scorer)
    print(json.dumps({"answer": "selqa_dev", **out["selqa_dev"]}), flush=True)
    out["friends_held_out"] = friends_mrr(scorer)
    print(json.dumps({"answer": "friends_held_out", **out["friends_held_out"]}), flush=True)
    if FAQ.exists():
        out["faq_held_out"] = faq_mrr(scorer)
        print(json.dumps({"answer": "faq_held_out", **out["faq_held_out"]}), flush=True)
    else:
        print(json.dumps({"skipped": "faq_held_out", "missing": str(FAQ)}), flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tasks", nargs="*", default=["support", "answer"])
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "models.json")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    if "support" in args.tasks:
        results["support"] = evaluate_support(PairScorer("support", BUNDLED, args.weights))
    if "answer" in args.tasks:
        results["answer"] = evaluate_answer(
            PairScorer("answer", BUNDLED, args.weights), args.weights
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    previous.update(results)
    args.out.write_text(json.dumps(previous, indent=2) + "\n", encoding="utf-8")
    print(table(previous))


def table(results: dict[str, Any]) -> str:
    """The evaluation table `make models` prints."""
    lines = ["| model | set | measure | value |", "|---|---|---|---|"]
    for task, sets in results.items():
        for name, values in sets.items():
            if not isinstance(values, dict):
                lines.append(f"| {task} | - | {name} | {values} |")
                continue
            for measure, value in values.items():
                if measure not in ("pairs", "questions", "pairs_per_s"):
                    lines.append(f"| {task} | {name} | {measure} | {value} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
