"""Two ways of using the shipped reading models differently, measured and not shipped
(issue 12's third approaches; the figures are in docs/models.md).

1. Support by alignment (SummaC-style): instead of reading the claim against the whole
   evidence at once, read it against each evidence sentence and each pair of adjacent
   sentences and take the best, optionally splitting a claim of several clauses into
   sub-claims that must each be supported somewhere (the least supported clause decides).
   Sets as training.evaluate (SciFact rationales, BEGIN test, WiCE test); gate at 0.5.
2. Answerability decided per question rather than per sentence: a logistic regression over
   the answer model's two best sentence probabilities and the support model's reading of
   the question's statement ("Who designed the bridge?" -> "designed the bridge") against
   the best sentence, fitted on the SQuAD 2.0 calib articles and measured on the test
   articles (training.data's split by article), against the shipped rule (best P(answers)
   at the calibrated threshold). Both operating points answer 0.87 of the answerable calib
   questions. Question-word features were left out: on SQuAD 2.0 "words of the question
   missing from the paragraph" predicts *answerable* (its writers built unanswerable
   questions from the paragraph's words), which no user's question would follow.

    .venv/bin/python bench/alternatives.py [--out bench/results/alternatives.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from answer.extractive import answer_pair  # noqa: E402
from answer.models import PairScorer  # noqa: E402
from answer.text import sentence_spans  # noqa: E402
from ingest import offline  # noqa: E402
from training.data import Question, squad  # noqa: E402
from training.evaluate import ANSWERED, GATE, auc, balanced, support_sets  # noqa: E402

_CLAUSES = re.compile(
    r"[,;]\s+(?:and|but|while|which|who|where)\s+|;\s+"
    r"|\s+and\s+(?=(?:is|was|are|were|has|had|have|it|he|she|they|the)\b)"
)
_WH = re.compile(
    r"^\s*(what|which|who|whom|whose|when|where|why|how)(\s+(many|much|long|often|far|old|"
    r"year|years|kind|type|is|was|are|were|does|do|did|has|have|had|can|could|would|will|"
    r"should))*\s+",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)] or [text]


def clauses(claim: str) -> list[str]:
    parts = [p.strip(" ,.") for p in _CLAUSES.split(claim)]
    parts = [p for p in parts if len(p.split()) >= 3]
    return parts if len(parts) > 1 else [claim]


def statement(question: str) -> str:
    """The question without its question words: what a sentence answering it states."""
    return _WH.sub("", question).rstrip("?").strip()


def alignment(scorer: PairScorer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, rows in support_sets().items():
        split = [sentences(evidence) for evidence, _, _ in rows]
        wanted: set[tuple[str, str]] = set()
        for (evidence, claim, _), ss in zip(rows, split, strict=True):
            for part in {claim, *clauses(claim)}:
                wanted.add((evidence, part))
                wanted |= {(s, part) for s in ss}
                wanted |= {(f"{a} {b}", part) for a, b in itertools.pairwise(ss)}
        pairs = sorted(wanted)
        p_sup = dict(
            zip(pairs, scorer.column(scorer.probabilities(pairs), "supported"), strict=True)
        )

        truth = [label for _, _, label in rows]
        for how in ("whole", "sentences", "all"):
            for decompose in (False, True):
                scores = [
                    min(_best(p_sup, evidence, ss, part, how) for part in clauses(claim))
                    if decompose
                    else _best(p_sup, evidence, ss, claim, how)
                    for (evidence, claim, _), ss in zip(rows, split, strict=True)
                ]
                key = f"{name}/{how}{'+clauses' if decompose else ''}"
                out[key] = _support_measures(scores, truth)
                print(json.dumps({key: out[key]}), flush=True)
    return out


def _best(
    p_sup: dict[tuple[str, str], float], evidence: str, ss: list[str], part: str, how: str
) -> float:
    """The best P(supported) of `part` against the whole evidence ("whole"), its sentences
    and adjacent pairs ("sentences"), or all of them."""
    found = [p_sup[(evidence, part)]] if how in ("whole", "all") else []
    if how in ("sentences", "all"):
        found += [p_sup[(s, part)] for s in ss]
        found += [p_sup[(f"{a} {b}", part)] for a, b in itertools.pairwise(ss)]
    return float(max(found))


def _support_measures(scores: list[float], truth: list[str]) -> dict[str, Any]:
    binary = ["supported" if t == "supported" else "rest" for t in truth]
    result = {
        "gate_balanced_accuracy": balanced(
            binary, ["supported" if s >= GATE else "rest" for s in scores]
        ),
        "auc_supported_vs_rest": auc(
            [s for s, t in zip(scores, truth, strict=True) if t == "supported"],
            [s for s, t in zip(scores, truth, strict=True) if t != "supported"],
        ),
    }
    if "contradicted" in truth:
        result["auc_supported_vs_contradicted"] = auc(
            [s for s, t in zip(scores, truth, strict=True) if t == "supported"],
            [s for s, t in zip(scores, truth, strict=True) if t == "contradicted"],
        )
    return result


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.asarray(np.log(p) - np.log1p(-p))


def question_features(
    answer: PairScorer, support: PairScorer, questions: list[Question]
) -> np.ndarray:
    """Per question: logits of the two best P(answers) over the gold paragraph's sentences
    and of the support model's three probabilities for (best sentence, statement)."""
    pairs, owners = [], []
    for n, q in enumerate(questions):
        ss = [q.paragraph.context[s:e] for s, e in q.paragraph.sentences]
        pairs += [(q.text, answer_pair(ss, i)) for i in range(len(ss))]
        owners += [(n, s) for s in ss]
    p_answers = answer.column(answer.probabilities(pairs), "answers")
    ranked: list[list[tuple[float, str]]] = [[] for _ in questions]
    for (n, sentence), p in zip(owners, p_answers, strict=True):
        ranked[n].append((float(p), sentence))
    top = [[*sorted(r, reverse=True), (0.0, "")] for r in ranked]
    read = support.probabilities(
        [(t[0][1], statement(q.text)) for t, q in zip(top, questions, strict=True)]
    )
    first = np.array([t[0][0] for t in top])
    second = np.array([t[1][0] for t in top])
    return np.column_stack([_logit(first), _logit(second), _logit(read)])


def answerability(answer: PairScorer, support: PairScorer) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression  # sentence-transformers' dependency

    calib, test = squad("v2", "calib"), squad("v2", "test")
    x_calib = question_features(answer, support, calib)
    x_test = question_features(answer, support, test)
    y_calib = np.array([not q.impossible for q in calib])
    y_test = np.array([not q.impossible for q in test])
    out: dict[str, Any] = {"calib_questions": len(calib), "test_questions": len(test)}
    fitted = LogisticRegression(max_iter=1000).fit(x_calib, y_calib)
    for name, score_calib, score_test in (
        ("best_sentence (shipped rule)", x_calib[:, 0], x_test[:, 0]),
        (
            "question_level (answer top 2 + support)",
            fitted.decision_function(x_calib),
            fitted.decision_function(x_test),
        ),
    ):
        kept = np.sort(score_calib[y_calib])
        threshold = kept[int((1 - ANSWERED) * len(kept))]
        answered = score_test >= threshold
        out[name] = {
            "auc_answerable_vs_not": auc(list(score_test[y_test]), list(score_test[~y_test])),
            "answerable_answered": round(float(answered[y_test].mean()), 4),
            "unanswerable_declined": round(float((~answered[~y_test]).mean()), 4),
        }
        print(json.dumps({name: out[name]}), flush=True)
    out["coefficients"] = [round(float(c), 3) for c in fitted.coef_[0]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/alternatives.json")
    args = parser.parse_args()
    offline.set_environment()
    support, answer = PairScorer("support"), PairScorer("answer")
    result = {
        "support_alignment": alignment(support),
        "answerability_per_question": answerability(answer, support),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
