"""The answer contract (docs/answer-contract.md) as data: Answer, AnswerSentence, Citation; and the
events of a streamed answer.

`Answer.__post_init__` checks the invariants that can be checked without the documents
(2 and 4: citations used and defined, abstentions carry no citations); invariant 1
(quote == document_text[start:end]) is established where quotes are cut, and invariant 3
by the support check (answer.support).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from retrieve import Passage

AnswerMode = Literal["extractive", "generative"]
ANSWER_MODES: tuple[AnswerMode, ...] = ("extractive", "generative")

# Why an answer abstained, for clients to word it (the `reason` text carries the figures):
# no_passages: retrieval found nothing; unrelated: what it found is not about the question;
# not_answered: related passages were read and none answers it; unsupported: a draft was
# written, but none of its sentences was supported by what it cited.
ReasonCode = Literal["no_passages", "unrelated", "not_answered", "unsupported"]
REASON_CODES: tuple[ReasonCode, ...] = get_args(ReasonCode)

MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Citation:
    n: int
    document_id: str
    chunk_id: int
    title: str
    source: str
    page: int | None
    start: int
    end: int
    quote: str

    def __post_init__(self) -> None:
        if len(self.quote) != self.end - self.start or not self.quote.strip():
            raise ValueError(
                f"citation [{self.n}] quote of {len(self.quote)} characters does not span "
                f"[{self.start}:{self.end}]"
            )


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    citations: tuple[int, ...]
    support: float
    # what decided that its quotes support it: the support model, the judge (answer.judge),
    # or nothing needed (a verbatim quote)
    support_by: Literal["model", "judge", "verbatim"] = "model"


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    reason: str | None
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    mode: AnswerMode
    model: str
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    reason_code: ReasonCode | None = None  # set on every abstention the service gives

    def __post_init__(self) -> None:
        numbers = [c.n for c in self.citations]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"citations must be numbered 1..n in order, got {numbers}")
        if self.reason_code is not None and (
            not self.abstained or self.reason_code not in REASON_CODES
        ):
            raise ValueError(
                f"reason_code {self.reason_code!r} needs an abstention and one of "
                f"{', '.join(REASON_CODES)}"
            )
        if self.abstained:
            if self.citations or self.sentences or not self.reason:
                raise ValueError("an abstention has a reason and no sentences or citations")
            return
        if not self.sentences:
            raise ValueError("an answer that does not abstain needs at least one sentence")
        used = {n for s in self.sentences for n in s.citations}
        in_text = {int(n) for n in MARKER.findall(self.answer)}
        for sentence in self.sentences:
            if not sentence.citations:
                raise ValueError(f"sentence without a citation: {sentence.text!r}")
        if used != set(numbers) or in_text != set(numbers):
            raise ValueError(
                f"citations {numbers} must each be used; sentences use {sorted(used)}, "
                f"the text uses {sorted(in_text)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The answer contract, as JSON-ready data."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "sentences": [
                {
                    "text": s.text,
                    "citations": list(s.citations),
                    "support": round(s.support, 4),
                    "support_by": s.support_by,
                }
                for s in self.sentences
            ],
            "citations": [asdict(c) for c in self.citations],
            "mode": self.mode,
            "model": self.model,
            "timings_ms": dict(self.timings_ms),
        }


NO_ANSWER = "The documents do not answer this question."


@dataclass(frozen=True)
class PassagesEvent:
    """First event of a stream: the passages the answer will be drawn from, numbered from 1."""

    passages: tuple[Passage, ...]
    kind: Literal["passages"] = "passages"


@dataclass(frozen=True)
class DeltaEvent:
    """Answer text as it is produced, before verification (a client shows it provisionally)."""

    text: str
    kind: Literal["delta"] = "delta"


@dataclass(frozen=True)
class FinalEvent:
    """The verified answer; it replaces whatever the deltas said."""

    answer: Answer
    kind: Literal["final"] = "final"


Event = PassagesEvent | DeltaEvent | FinalEvent
