"""`cited eval`: how well the current store and models answer a set of questions.

Each line of a questions file is a JSON object:

    {"question": "How do I ...?",            required
     "answers": ["CITED_DATABASE_URL"],      optional: strings a correct answer contains
     "source": "docs/deploy.md",             optional: the document that answers it
     "unanswerable": false}                  optional: true when the documents do not answer it

A question is answered correctly when it is answered (not abstained) and, if `answers`
are given, the answer or a quote it cites contains one of them (case, punctuation and
articles aside), and, if only `source` is given, a citation comes from that source. An
unanswerable question is handled correctly when the answer abstains.

Reported: retrieval hit@k (a passage from `source` among those retrieved), answer
accuracy, answered share, abstention precision and recall (abstaining is the positive
class), citation validity (invariant 1: every quote is the document's text at its
offsets, re-read from the store), latency, the slowest questions and every failure.

Latency is that of warm questions: the first question pays for loading the models, the
vector index and the store's connections (seconds, against milliseconds for the rest), so
its time is reported apart (`warm_up_ms`) and left out of the percentiles and the slowest.
Its answer counts like any other.

Thresholds (`cited eval --fail-under correct=0.8,abstention_recall=0.75`) name measures
of THRESHOLD_METRICS and the least share each must reach, for CI: `missed_thresholds`
says which were missed (a measure the file cannot measure, such as abstention recall
without unanswerable questions, is missed too: a check that cannot run must not pass).
"""

from __future__ import annotations

import json
import re
import string
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from answer.service import QuestionAnswerer
from answer.types import Answer, AnswerMode, FinalEvent, PassagesEvent
from index import ConfigError, Scope
from retrieve import Passage

SLOWEST = 5
# The measures a threshold may name: shares in [0, 1], higher is better.
THRESHOLD_METRICS = (
    "correct",
    "answer_accuracy",
    "answered",
    "abstention_precision",
    "abstention_recall",
    "retrieval_hit_at_k",
    "citation_validity",
)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans(dict.fromkeys(string.punctuation, " "))


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    answers: tuple[str, ...] = ()
    source: str | None = None
    unanswerable: bool = False
    line: int = 0


@dataclass(frozen=True)
class Outcome:
    question: str
    line: int
    expected: str  # "answer" or "abstain"
    abstained: bool
    correct: bool
    retrieved: bool | None  # a passage of `source` was retrieved (None: no source given)
    citations: int
    invalid_citations: int
    ms: float
    answer: str
    reason: str | None
    failure: str | None  # why it counts as wrong
    warm_up: bool = False  # the first question: it loaded the models (timed apart)


@dataclass(frozen=True)
class Report:
    metrics: dict[str, Any]
    slowest: tuple[Outcome, ...]
    failures: tuple[Outcome, ...]
    outcomes: tuple[Outcome, ...] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "slowest": [asdict(o) for o in self.slowest],
            "failures": [asdict(o) for o in self.failures],
            "outcomes": [asdict(o) for o in self.outcomes],
        }


def read_questions(lines: Iterable[str], name: str = "questions file") -> list[EvalQuestion]:
    """Parses a questions file; a bad line fails with its number and what is wrong."""
    out: list[EvalQuestion] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{name} line {number} is not JSON: {exc}") from exc
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise ConfigError(f'{name} line {number}: expected an object with a "question" string')
        answers = row.get("answers", [])
        if isinstance(answers, str):
            answers = [answers]
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise ConfigError(f'{name} line {number}: "answers" must be a list of strings')
        source = row.get("source")
        if source is not None and not isinstance(source, str):
            raise ConfigError(f'{name} line {number}: "source" must be a string')
        unanswerable = row.get("unanswerable", False)
        if not isinstance(unanswerable, bool):
            raise ConfigError(f'{name} line {number}: "unanswerable" must be true or false')
        if unanswerable and (answers or source):
            raise ConfigError(
                f"{name} line {number}: an unanswerable question has no answers or source"
            )
        out.append(EvalQuestion(row["question"], tuple(answers), source, unanswerable, number))
    if not out:
        raise ConfigError(f"{name} has no questions")
    return out


def normalize(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def from_source(path: str, source: str) -> bool:
    """True when `path` (a document's source) is the file `source` names: the same path, or
    one ending with it ("docs/deploy.md" matches "/home/me/cited/docs/deploy.md")."""
    have = PurePosixPath(path.replace("\\", "/")).parts
    want = PurePosixPath(source.replace("\\", "/")).parts
    return len(want) <= len(have) and have[len(have) - len(want) :] == want


class Evaluator:
    def __init__(
        self,
        answers: QuestionAnswerer,
        document_text: Callable[[str], str],
        *,
        mode: AnswerMode | None = None,
        top_k: int | None = None,
        scope: Scope | None = None,
    ) -> None:
        self.answers = answers
        self.document_text = document_text
        self.mode = mode
        self.top_k = top_k
        self.scope = scope

    def run(self, questions: Sequence[EvalQuestion]) -> Report:
        """Ask every question; the first one is the warm-up (see the module docstring)."""
        outcomes = [self.one(q, warm_up=n == 0) for n, q in enumerate(questions)]
        return summarize(outcomes)

    def one(self, item: EvalQuestion, warm_up: bool = False) -> Outcome:
        started = time.perf_counter()
        passages: tuple[Passage, ...] = ()
        answer: Answer | None = None
        for event in self.answers.stream(
            item.question, mode=self.mode, top_k=self.top_k, scope=self.scope
        ):
            if isinstance(event, PassagesEvent):
                passages = tuple(event.passages)
            elif isinstance(event, FinalEvent):
                answer = event.answer
        ms = round((time.perf_counter() - started) * 1000, 1)
        assert answer is not None, "an answer stream always ends with a final event"
        texts = {d: self.document_text(d) for d in {c.document_id for c in answer.citations}}
        invalid = sum(texts[c.document_id][c.start : c.end] != c.quote for c in answer.citations)
        retrieved = (
            None
            if item.source is None
            else any(from_source(p.source, item.source) for p in passages)
        )
        failure = judge(item, answer)
        return Outcome(
            question=item.question,
            line=item.line,
            expected="abstain" if item.unanswerable else "answer",
            abstained=answer.abstained,
            correct=failure is None,
            retrieved=retrieved,
            citations=len(answer.citations),
            invalid_citations=invalid,
            ms=ms,
            answer=answer.answer,
            reason=answer.reason,
            failure=failure,
            warm_up=warm_up,
        )


def judge(item: EvalQuestion, answer: Answer) -> str | None:
    """None when the answer is right for the question, else why it is wrong."""
    if item.unanswerable:
        return None if answer.abstained else "answered a question the documents do not answer"
    if answer.abstained:
        return f"abstained: {answer.reason}"
    if item.answers:
        said = normalize(" ".join([answer.answer, *(c.quote for c in answer.citations)]))
        if not any(normalize(a) and normalize(a) in said for a in item.answers):
            return "the answer contains none of " + ", ".join(repr(a) for a in item.answers)
    elif item.source is not None and not any(
        from_source(c.source, item.source) for c in answer.citations
    ):
        return f"no citation comes from {item.source}"
    return None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(outcomes: list[Outcome]) -> Report:
    answerable = [o for o in outcomes if o.expected == "answer"]
    unanswerable = [o for o in outcomes if o.expected == "abstain"]
    abstained = [o for o in outcomes if o.abstained]
    with_source = [o for o in outcomes if o.retrieved is not None]
    citations = sum(o.citations for o in outcomes)
    timed = [o for o in outcomes if not o.warm_up]
    warm_up = next((o.ms for o in outcomes if o.warm_up), None)
    metrics: dict[str, Any] = {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "correct": _share(sum(o.correct for o in outcomes), len(outcomes)),
        "answer_accuracy": _share(sum(o.correct for o in answerable), len(answerable)),
        "answered": _share(sum(not o.abstained for o in answerable), len(answerable)),
        "abstention_precision": _share(
            sum(o.expected == "abstain" for o in abstained), len(abstained)
        ),
        "abstention_recall": _share(sum(o.abstained for o in unanswerable), len(unanswerable)),
        "retrieval_hit_at_k": _share(sum(bool(o.retrieved) for o in with_source), len(with_source)),
        "citation_validity": _share(
            citations - sum(o.invalid_citations for o in outcomes), citations
        ),
        "timed_questions": len(timed),
        "latency_ms_p50": _percentile(timed, 50),
        "latency_ms_p95": _percentile(timed, 95),
        "warm_up_ms": warm_up,
    }
    slowest = tuple(sorted(timed, key=lambda o: -o.ms)[:SLOWEST])
    failures = tuple(o for o in outcomes if not o.correct or o.invalid_citations)
    return Report(metrics, slowest, failures, tuple(outcomes))


def _percentile(outcomes: Sequence[Outcome], q: float) -> float | None:
    if not outcomes:
        return None
    return round(float(np.percentile([o.ms for o in outcomes], q)), 1)


def parse_thresholds(specs: Iterable[str]) -> dict[str, float]:
    """`["correct=0.8,abstention_recall=75%"]` -> {"correct": 0.8, "abstention_recall": 0.75};
    a share is in [0, 1] or a percentage. A bad entry fails naming it and what is allowed."""
    thresholds: dict[str, float] = {}
    for entry in (e.strip() for spec in specs for e in spec.split(",")):
        if not entry:
            continue
        name, equals, value = (part.strip() for part in entry.partition("="))
        if name not in THRESHOLD_METRICS:
            raise ConfigError(
                f"{entry!r} names no measure; use one of {', '.join(THRESHOLD_METRICS)}, "
                "as in correct=0.8"
            )
        try:
            share = float(value.removesuffix("%")) / (100 if value.endswith("%") else 1)
        except ValueError:
            share = -1.0
        if not equals or not 0.0 <= share <= 1.0:
            raise ConfigError(
                f"{entry!r}: give {name} the least share it must reach, from 0 to 1 or as a "
                f"percentage, as in {name}=0.8 or {name}=80%"
            )
        thresholds[name] = share
    return thresholds


_UNMEASURED = {  # why a measure of THRESHOLD_METRICS is None
    "correct": "there are no questions",
    "answer_accuracy": "no question is answerable",
    "answered": "no question is answerable",
    "abstention_precision": "no answer abstained",
    "abstention_recall": 'no question is marked "unanswerable"',
    "retrieval_hit_at_k": 'no question names its "source"',
    "citation_validity": "no answer cites anything",
}


def missed_thresholds(metrics: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """One line per threshold missed ("correct 72.4% is under 80.0%"), none when all are
    met. A measure that could not be measured (None) misses its threshold."""
    missed = []
    for name, least in thresholds.items():
        value = metrics.get(name)
        if value is None:
            missed.append(f"{name} was not measured: {_UNMEASURED[name]}")
        elif value < least:
            missed.append(f"{name} {value:.1%} is under {least:.1%}")
    return missed


def render(report: Report) -> str:
    """The report for a person: the measures, the slowest questions, every failure."""
    m = report.metrics
    lines = [
        f"{m['questions']} questions ({m['answerable']} answerable, "
        f"{m['unanswerable']} unanswerable)",
        "",
    ]
    names = {
        "correct": "correct overall",
        "answer_accuracy": "answer accuracy (answerable)",
        "answered": "answered (answerable)",
        "abstention_precision": "abstention precision",
        "abstention_recall": "abstention recall (unanswerable declined)",
        "retrieval_hit_at_k": "retrieval hit@k (questions with a source)",
        "citation_validity": "citation validity (quote == document text)",
    }
    for key, label in names.items():
        value = m[key]
        lines.append(f"  {label:<44} {'-' if value is None else f'{value:.1%}'}")
    if m["timed_questions"]:
        label = f"latency p50 / p95 ({m['timed_questions']} warm questions)"
        lines.append(f"  {label:<44} {m['latency_ms_p50']} / {m['latency_ms_p95']} ms")
    if m["warm_up_ms"] is not None:
        label = "first question (loads the models; not above)"
        lines.append(f"  {label:<44} {m['warm_up_ms']} ms")
    lines += ["", "Slowest:"]
    lines += [f"  {o.ms:>8.1f} ms  {o.question}" for o in report.slowest]
    lines += ["", f"Failures ({len(report.failures)}):" if report.failures else "No failures."]
    for o in report.failures:
        lines.append(f"  line {o.line}: {o.question}")
        lines.append(f"    {o.failure or f'{o.invalid_citations} invalid citations'}")
        if not o.abstained:
            lines.append(f"    answer: {o.answer}")
    return "\n".join(lines)
