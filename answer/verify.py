"""Enforcement of the answer contract on a draft (from either mode): claims with the passage
numbers they cite -> a verified Answer.

For each claim: cited numbers outside 1..len(passages) are dropped; for each remaining
passage the support check picks the quote that best supports the claim; citations whose
passage supports nothing are dropped; a claim left with no citation is removed (never
shown). Citations are renumbered 1..m in order of first use, one per distinct quote. If
no claim survives, the answer abstains with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from answer.support import SupportBy, SupportChecker, Verdict
from answer.text import Claim, with_markers
from answer.types import (
    MARKER,
    NO_ANSWER,
    Answer,
    AnswerMode,
    AnswerSentence,
    Citation,
    ReasonCode,
)
from retrieve import Passage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejected:
    """A claim that was removed, and why (logged; used for the corrective retry)."""

    claim: str
    reason: str


@dataclass(frozen=True)
class Verified:
    answer: Answer
    rejected: tuple[Rejected, ...]


def _defuse_markers(text: str) -> str:
    """A quoted sentence may itself contain "[3]" (a footnote in the document); written as
    "(3)" it cannot be mistaken for one of the answer's citations."""
    return MARKER.sub(lambda m: f"({m.group(1)})", text)


def abstention(
    question: str,
    reason: str,
    code: ReasonCode,
    mode: AnswerMode,
    model: str,
    timings: dict[str, float],
) -> Answer:
    return Answer(question, NO_ANSWER, True, reason, (), (), mode, model, timings, code)


def verify(
    question: str,
    claims: Sequence[Claim],
    passages: Sequence[Passage],
    checker: SupportChecker,
    mode: AnswerMode,
    model: str,
    timings: dict[str, float] | None = None,
) -> Verified:
    timings = dict(timings or {})
    # (document id, start, end) -> citation n: overlapping chunks of one document can hold
    # the same quote, which is one citation, not two
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    sentences: list[AnswerSentence] = []
    rejected: list[Rejected] = []
    # Every (claim, cited passage) is checked in one batch: the model reads them together.
    asked = [
        (claim.text, passages[n - 1])
        for claim in claims
        for n in claim.cited
        if 1 <= n <= len(passages)
    ]
    answers = iter(checker.check_many(asked))
    for claim in claims:
        valid = [n for n in claim.cited if 1 <= n <= len(passages)]
        verdicts: list[Verdict] = [next(answers) for _ in valid]
        if not claim.cited:
            rejected.append(Rejected(claim.text, "it cites no passage"))
            continue
        if not valid:
            rejected.append(
                Rejected(
                    claim.text,
                    f"it cites {', '.join(f'[{n}]' for n in claim.cited)} but only "
                    f"[1]-[{len(passages)}] exist",
                )
            )
            continue
        kept: list[int] = []
        supports: list[float] = []
        reasons: list[str] = []
        deciders: set[str] = set()
        for n, verdict in zip(valid, verdicts, strict=True):
            passage = passages[n - 1]
            if verdict.quote is None:
                reasons.append(f"[{n}]: {verdict.reason}")
                continue
            deciders.add(verdict.by)
            for quote in verdict.quotes:  # several when its terms sit in sentences apart
                key = (passage.document_id, quote.start, quote.end)
                if key not in numbers:
                    numbers[key] = len(citations) + 1
                    citations.append(
                        Citation(
                            n=numbers[key],
                            document_id=passage.document_id,
                            chunk_id=passage.chunk_id,
                            title=passage.title,
                            source=passage.source,
                            page=passage.page,
                            start=quote.start,
                            end=quote.end,
                            quote=quote.text,
                        )
                    )
                if numbers[key] not in kept:
                    kept.append(numbers[key])
                    supports.append(quote.support)
        if not kept:
            rejected.append(
                Rejected(claim.text, "not supported by what it cites (" + "; ".join(reasons) + ")")
            )
            continue
        by: SupportBy = (
            "judge" if "judge" in deciders else "verbatim" if deciders == {"verbatim"} else "model"
        )
        sentences.append(
            AnswerSentence(
                with_markers(_defuse_markers(claim.text), tuple(kept)),
                tuple(kept),
                min(supports),
                by,
            )
        )
    for item in rejected:
        log.info("answer sentence removed reason=%r sentence=%r", item.reason, item.claim)
    if not sentences:
        if not claims:
            reason = "no answer was produced from the passages"
        else:
            reason = "no sentence of the draft answer was supported by the passages it cited"
        code: ReasonCode = "unsupported" if claims else "not_answered"
        return Verified(abstention(question, reason, code, mode, model, timings), tuple(rejected))
    answer = Answer(
        question=question,
        answer=" ".join(s.text for s in sentences),
        abstained=False,
        reason=None,
        sentences=tuple(sentences),
        citations=tuple(citations),
        mode=mode,
        model=model,
        timings_ms=timings,
    )
    return Verified(answer, tuple(rejected))
