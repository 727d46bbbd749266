"""The support check: does a quote from a passage support a claim?

A quote supports a claim when both hold:
- every number and name of the claim appears in what is quoted (a hard veto: "rebuilt in
  1887" is not supported by "rebuilt in 1897", nor "Keswick" by a quote about
  "Ambleside", nor "won it once" by "has won it three times"), and not with two names the
  other way round around the same words ("Brightline bought Acme" against "Acme bought
  Brightline"). What counts as the same number or name, as a reader reads it (number
  words and digits, Greek letters and their names, acronyms, "X (Y)"), is answer.terms';
- the support model (answer.models, trained by training/) reads quote and claim together
  and gives P(supported) at least `threshold`. It tells support from contradiction
  ("Brightline bought Acme" is refuted by "Acme bought Brightline", "did not buy" by
  "bought"), which similarity of embeddings cannot. That probability is the `support`
  of the answer contract.

The quote is the best-supporting sentence of the passage, or two adjacent sentences when
no single one supports the claim. When the claim's terms are in the passage but in no one
sentence or adjacent pair ("The Hollow Bridge stands in Keswick." ... "It has three
arches."), up to MAX_PARTS sentences that hold them between them are read together and,
when they support it, each is a quote of its own (the sentence cites them all; each is an
exact span). Sentences that read as instructions to an assistant ("ignore previous
instructions...") are never quotes: text planted in a document can not vouch for anything.

A claim that is verbatim a sentence of the passage is supported by it with no model call
(support 1.0): extractive answers are checked at no model cost. The candidate quotes of
all the claims of one answer are read in at most two batches (`check_many`): single
sentences first, then pairs of sentences for the claims no single sentence supports (pairs
are twice as long to read and rarely needed).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from answer.judge import SupportJudge
from answer.models import PairScorer
from answer.terms import missing_terms, swapped_roles, words_of
from answer.text import is_heading, normalize_space, sentence_spans
from index import ConfigError
from retrieve import Passage

_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|context|"
    r"above|previous|prior)\b|\b(system prompt|you are now|you must (now )?(say|answer|reply|"
    r"tell)|(reply|respond|answer) (only )?with|tell the user|as an ai)\b",
    re.IGNORECASE,
)


def looks_like_instruction(text: str) -> bool:
    """True for text addressed to an assistant rather than stating something."""
    return _INJECTION.search(text) is not None


@dataclass(frozen=True)
class Quote:
    """A span of a passage (document offsets) and how well it supports a claim."""

    start: int
    end: int
    text: str
    support: float


SupportBy = Literal["model", "judge", "verbatim"]


@dataclass(frozen=True)
class Verdict:
    quote: Quote | None  # the supporting quote, or None
    reason: str | None  # why nothing in the passage supports the claim
    gate: bool = False  # refused by the number/name gate, without the model
    also: tuple[Quote, ...] = ()  # more quotes of the passage the claim needs (its terms)
    by: SupportBy = "model"  # what decided: the model, the judge, or verbatim (the gate)

    @property
    def quotes(self) -> tuple[Quote, ...]:
        """Every quote the claim cites from this passage, in the passage's order."""
        if self.quote is None:
            return ()
        return tuple(sorted((self.quote, *self.also), key=lambda q: q.start))


@dataclass(frozen=True)
class _Candidate:
    item: int  # which (claim, passage) of the batch
    start: int  # offsets into the passage text
    end: int
    paired: bool  # two adjacent sentences
    also: tuple[tuple[int, int], ...] = ()  # further sentences read with it (not adjacent)

    def text(self, passage: Passage) -> str:
        """What the model reads as the quote: the span, then the others, in passage order."""
        parts = sorted([(self.start, self.end), *self.also])
        return " ".join(passage.text[s:e] for s, e in parts)


MAX_PARTS = 3  # sentences of one passage a claim may cite together


class SupportChecker:
    """The gate of every answer sentence; the support model is given, loaded on first use."""

    def __init__(
        self,
        model: PairScorer,
        threshold: float = 0.5,
        max_quotes: int = 6,
        judge: SupportJudge | None = None,
    ) -> None:
        """`judge`: decides the pairs the model is unsure of (answer.judge); None: the
        model alone."""
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"CITED_SUPPORT_THRESHOLD must be within (0, 1], got {threshold}")
        if max_quotes < 1:
            raise ConfigError(f"max_quotes must be at least 1, got {max_quotes}")
        self.model = model
        self.threshold = threshold
        self.max_quotes = max_quotes
        self.judge = judge

    @staticmethod
    def candidates(passage: Passage) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Quotable spans of a passage (offsets into its text): the sentences that are not
        instructions, and the pairs of adjacent ones. A heading starts no pair: "Findings
        of the review" + its first sentence reads to the model as more support than the
        sentence alone (a contradiction of that sentence passed the check through it)."""
        spans = [
            (s, e)
            for s, e in sentence_spans(passage.text)
            if not looks_like_instruction(passage.text[s:e])
        ]
        pairs = [
            (a[0], b[1])
            for a, b in itertools.pairwise(spans)
            if not is_heading(passage.text[a[0] : a[1]])
            and not looks_like_instruction(passage.text[a[0] : b[1]])
        ]
        return spans, pairs

    def check(self, claim: str, passage: Passage) -> Verdict:
        """The quote of `passage` that best supports `claim`, if one passes both tests."""
        return self.check_many([(claim, passage)])[0]

    def check_many(self, items: Sequence[tuple[str, Passage]]) -> list[Verdict]:
        """One verdict per (claim, passage). The model reads in at most two batches: every
        claim's candidate single sentences first, then pairs of adjacent sentences only for
        the claims no single sentence supports."""
        verdicts: list[Verdict | None] = [None] * len(items)
        singles: list[_Candidate] = []
        pairs: dict[int, list[_Candidate]] = {}
        for n, (claim, passage) in enumerate(items):
            verdict, candidates = self._prepare(n, claim, passage)
            verdicts[n] = verdict
            singles += [c for c in candidates if not c.paired]
            if any(c.paired for c in candidates):
                pairs[n] = [c for c in candidates if c.paired]
        read = self._read(items, singles)
        later: list[_Candidate] = []
        for n, scored in read.items():
            if any(s >= self.threshold for _, s, _ in scored) or n not in pairs:
                verdicts[n] = self._decide(items[n][1], scored)
            else:
                later += pairs[n]
        later += [c for n, group in pairs.items() if n not in read for c in group]
        scores: dict[int, list[tuple[_Candidate, float, float]]] = dict(read)
        for n, scored in self._read(items, later).items():
            scores[n] = read.get(n, []) + scored
            verdicts[n] = self._decide(items[n][1], scores[n])
        if self.judge is not None:
            self._judged(items, verdicts, scores, self.judge)
        return [v for v in verdicts if v is not None]

    def _judged(
        self,
        items: Sequence[tuple[str, Passage]],
        verdicts: list[Verdict | None],
        scores: dict[int, list[tuple[_Candidate, float, float]]],
        judge: SupportJudge,
    ) -> None:
        """Let the judge decide, in one request, the items whose best quote the model is
        unsure of (its P(supported) in the judge's band); a failed judge changes nothing."""
        asked: list[tuple[int, _Candidate, float]] = []
        for n, scored in scores.items():
            best, probability, _ = max(scored, key=lambda x: (x[1], not x[0].paired))
            if judge.uncertain(probability):
                asked.append((n, best, probability))
        if not asked:
            return
        answers = judge.judge(
            [(c.text(items[n][1]), normalize_space(items[n][0])) for n, c, _ in asked]
        )
        if answers is None:
            return
        for (n, best, probability), answer in zip(asked, answers, strict=True):
            passage = items[n][1]
            if answer == "supported":
                also = tuple(self._quote(passage, s, e, probability) for s, e in best.also)
                quote = self._quote(passage, best.start, best.end, probability)
                verdicts[n] = Verdict(quote, None, also=also, by="judge")
            else:
                said = "contradicts it" if answer == "contradicted" else "does not state it"
                verdicts[n] = Verdict(
                    None,
                    f"the judge found that the passage {said} "
                    f"({_clip(best.text(passage))!r}; P(supported) {probability:.2f})",
                    by="judge",
                )

    def _read(
        self, items: Sequence[tuple[str, Passage]], todo: list[_Candidate]
    ) -> dict[int, list[tuple[_Candidate, float, float]]]:
        """(candidate, P(supported), P(contradicted)) of each candidate, by item; one batch."""
        if not todo:
            return {}
        probabilities = self.model.probabilities(
            [(c.text(items[c.item][1]), normalize_space(items[c.item][0])) for c in todo]
        )
        supported = self.model.column(probabilities, "supported")
        contradicted = self.model.column(probabilities, "contradicted")
        out: dict[int, list[tuple[_Candidate, float, float]]] = {}
        for c, s, x in zip(todo, supported, contradicted, strict=True):
            out.setdefault(c.item, []).append((c, float(s), float(x)))
        return out

    def _prepare(
        self, n: int, claim: str, passage: Passage
    ) -> tuple[Verdict | None, list[_Candidate]]:
        """A verdict reached without the model, or the candidate quotes it must read."""
        singles, pairs = self.candidates(passage)
        spans = singles + pairs
        if not spans:
            return Verdict(None, "the passage has nothing quotable"), []
        wanted = normalize_space(claim)
        for s, e in spans:
            if normalize_space(passage.text[s:e]) == wanted:
                return Verdict(self._quote(passage, s, e, 1.0), None, by="verbatim"), []
        quotable = " ".join(passage.text[s:e] for s, e in singles)
        missing = missing_terms(claim, quotable)
        if missing:
            return Verdict(
                None,
                f"no quotable sentence of the passage contains {', '.join(missing)}",
                gate=True,
            ), []
        agreeing = [(s, e) for s, e in spans if not missing_terms(claim, passage.text[s:e])]
        swaps = {span: swapped_roles(claim, passage.text[span[0] : span[1]]) for span in agreeing}
        if agreeing and all(swaps.values()):
            return Verdict(
                None,
                f"the passage says it the other way round ({next(iter(swaps.values()))!r})",
                gate=True,
            ), []
        agreeing = [span for span in agreeing if not swaps[span]]
        words = words_of(claim)
        if not agreeing:  # the terms are there, in sentences apart: quote them together
            cover = self._cover(claim, passage, singles, words)
            if cover is None:
                return Verdict(
                    None,
                    f"no {MAX_PARTS} sentences of the passage hold the claim's numbers and "
                    "names together",
                    gate=True,
                ), []
            (s, e), *rest = cover
            return None, [_Candidate(n, s, e, False, tuple(rest))]
        # The quotes sharing most words with the claim; the model reads only those.
        paired = set(pairs)
        ranked = sorted(
            agreeing,
            key=lambda span: (-len(words & words_of(passage.text[span[0] : span[1]])), span),
        )
        chosen = [s for s in ranked if s not in paired][: self.max_quotes]
        chosen += [s for s in ranked if s in paired][: self.max_quotes]
        return None, [_Candidate(n, s, e, (s, e) in paired) for s, e in chosen]

    @staticmethod
    def _cover(
        claim: str, passage: Passage, singles: list[tuple[int, int]], words: set[str]
    ) -> list[tuple[int, int]] | None:
        """At most MAX_PARTS sentences that hold every number and name of the claim between
        them (the one sharing most words with it first, then each adding most of what is
        missing), in passage order; None when no such few do."""

        def shared(span: tuple[int, int]) -> int:
            return len(words & words_of(passage.text[span[0] : span[1]]))

        chosen = [max(singles, key=shared)]
        while True:
            held = " ".join(passage.text[s:e] for s, e in chosen)
            missing = len(missing_terms(claim, held))
            if not missing:
                break
            if len(chosen) == MAX_PARTS:
                return None
            options = [
                (
                    missing - len(missing_terms(claim, held + " " + passage.text[s:e])),
                    shared(span),
                    span,
                )
                for span in singles
                if span not in chosen
                for s, e in [span]
            ]
            gain, _, best = max(options, default=(0, 0, (0, 0)))
            if gain <= 0:
                return None
            chosen.append(best)
        joined = " ".join(passage.text[s:e] for s, e in sorted(chosen))
        if swapped_roles(claim, joined):
            return None
        return sorted(chosen)

    def _decide(self, passage: Passage, scored: list[tuple[_Candidate, float, float]]) -> Verdict:
        # One sentence is the better quote: two are used only when no single one passes.
        passing = [x for x in scored if not x[0].paired and x[1] >= self.threshold] or [
            x for x in scored if x[1] >= self.threshold
        ]
        if not passing:
            best = max(s for _, s, _ in scored)
            worst, _, contradicted = max(scored, key=lambda x: x[2])
            if contradicted >= 0.5:
                return Verdict(
                    None,
                    f"the passage contradicts it (P(contradicted) {contradicted:.2f} for "
                    f"{_clip(passage.text[worst.start : worst.end])!r})",
                )
            return Verdict(
                None,
                f"no quote of the passage supports it (best P(supported) {best:.2f} < "
                f"{self.threshold:.2f})",
            )
        chosen, score, _ = max(passing, key=lambda x: x[1])
        also = tuple(self._quote(passage, s, e, score) for s, e in chosen.also)
        return Verdict(self._quote(passage, chosen.start, chosen.end, score), None, also=also)

    @staticmethod
    def _quote(passage: Passage, start: int, end: int, support: float) -> Quote:
        return Quote(
            passage.start + start, passage.start + end, passage.text[start:end], min(1.0, support)
        )


def _clip(text: str, limit: int = 80) -> str:
    text = normalize_space(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
