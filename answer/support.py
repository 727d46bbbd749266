"""The support check: does a quote from a passage support a claim?

A quote supports a claim when both hold:
- every number and name of the claim appears in the quote (a hard veto: "rebuilt in 1887"
  is not supported by "rebuilt in 1897", nor "Keswick" by a quote about "Ambleside"), and
  not with two names the other way round around the same words ("Brightline bought Acme"
  against "Acme bought Brightline": swapped_roles).
  Names are compared as written apart from typography: curly and straight apostrophes,
  "CO2" / "CO 2", "SHP-2" / "SHP2", and an acronym for the words it abbreviates
  ("UK" / "United Kingdom") are the same;
- the support model (answer.models, trained by training/) reads quote and claim together
  and gives P(supported) at least `threshold`. It tells support from contradiction
  ("Brightline bought Acme" is refuted by "Acme bought Brightline", "did not buy" by
  "bought"), which similarity of embeddings cannot. That probability is the `support`
  of the answer contract.

The quote is the best-supporting sentence of the passage, or two adjacent sentences when
no single one supports the claim.
Sentences that read as instructions to an assistant ("ignore previous instructions...")
are never quotes: text planted in a document can not vouch for anything.

A claim that is verbatim a sentence of the passage is supported by it with no model call
(support 1.0): extractive answers are checked at no model cost. The candidate quotes of
all the claims of one answer are read in at most two batches (`check_many`): single
sentences first, then pairs of sentences for the claims no single sentence supports (pairs
are twice as long to read and rarely needed).

Deliberately not done: the first word of a claim is not treated as a name (every sentence
starts with a capital).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from answer.models import PairScorer
from answer.text import normalize_space, sentence_spans
from index import ConfigError
from index.lexical import STOP_WORDS
from retrieve import Passage

_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")
_NAME = re.compile(r"\b[A-Z][\w'’-]*|\b\w*[A-Z]\w*")
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|context|"
    r"above|previous|prior)\b|\b(system prompt|you are now|you must (now )?(say|answer|reply|"
    r"tell)|(reply|respond|answer) (only )?with|tell the user|as an ai)\b",
    re.IGNORECASE,
)


def looks_like_instruction(text: str) -> bool:
    """True for text addressed to an assistant rather than stating something."""
    return _INJECTION.search(text) is not None


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def key_terms(claim: str) -> tuple[set[str], set[str]]:
    """(numbers, names) a supporting quote must contain. Names: capitalised words or words
    with a capital inside (iPhone), except the claim's first word and "I"."""
    first = re.match(r"\W*\w+", claim)
    rest = claim[first.end() :] if first else claim
    names = {
        word.strip("'’-")
        for word in _NAME.findall(rest)
        if word not in ("I",) and not word.isdigit() and word.strip("'’-")
    }
    return _numbers(claim), names


_TOKEN = re.compile(r"\w+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.translate(_APOSTROPHES).lower())


def _spellings(text: str) -> set[str]:
    """Each run of one to three words of `text`, written without the spaces and
    punctuation between them ("CO 2" -> "co2", "SHP-2" -> "shp2", "Hollow's" -> "hollows"
    and "hollow"), plus the initials of runs of capitalised words ("United Kingdom" ->
    "uk")."""
    tokens = _tokens(text)
    out = {"".join(tokens[i : i + n]) for n in (1, 2, 3) for i in range(len(tokens))}
    for run in re.findall(r"(?:\b[A-Z][a-z]+(?:\s+(?:of|the|and|for)\s+|\s+)?){2,}", text):
        words = [w for w in run.split() if w[:1].isupper()]
        out.add("".join(w[0] for w in words).lower())
    return out


def missing_terms(claim: str, quote: str) -> list[str]:
    """Numbers and names of `claim` that `quote` does not contain (typography aside)."""
    numbers, names = key_terms(claim)
    missing = sorted(numbers - _numbers(quote))
    spellings = _spellings(quote)
    for name in sorted(names):
        squashed = "".join(_tokens(name))
        if squashed in spellings or squashed.removesuffix("s") in spellings:
            continue
        if _abbreviated(name, claim, spellings):
            continue
        missing.append(name)
    return missing


_CAPITALISED = re.compile(r"\b[A-Z][\w'\u2019-]*(?:\s+[A-Z][\w'\u2019-]*)*")
MAX_RELATION = 8  # words between two names that can make a relation
_SYMMETRIC = {"and", "or", "nor", "with", "versus", "vs", "plus", "between", "the", "both"}


def swapped_roles(claim: str, quote: str) -> str | None:
    """The two names of `claim` that `quote` relates the other way round ("Brightline
    bought Acme" against "Acme bought Brightline"; "from York to Leeds" against "from Leeds
    to York"), as "A ... B", or None. Only the same words between the two names count, so a
    paraphrase ("Brightline was bought by Acme") is left to the support model."""
    said = " " + " ".join(_tokens(quote)) + " "
    names: list[str] = []
    for match in _CAPITALISED.finditer(claim):
        words = _tokens(match.group(0))
        while words and words[0] in STOP_WORDS:  # "The Leeds office" -> "leeds"
            words = words[1:]
        if words[-1:] == ["s"] and match.group(0)[-2:-1] in "'\u2019":
            words = words[:-1]  # "Acme's" -> "acme"
        name = " ".join(words)
        if name and f" {name} " in said:
            names.append(name)
    claim_words = " " + " ".join(_tokens(claim)) + " "
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if first == second or first in second or second in first:
                continue
            start = claim_words.find(f" {first} ")
            end = claim_words.find(f" {second} ", start + len(first) + 1)
            if start < 0 or end < 0:
                continue
            between = claim_words[start + len(first) + 2 : end].strip()
            if not between or len(between.split()) > MAX_RELATION:
                continue
            if set(between.split()) <= _SYMMETRIC:  # "Paris and London": either way round
                continue
            swapped = f" {second} {between} {first} "
            if swapped in said and f" {first} {between} {second} " not in said:
                return f"{second} {between} {first}"
    return None


def _abbreviated(name: str, claim: str, quote_spellings: set[str]) -> bool:
    """True when `name` is one word of a capitalised run of the claim ("United Kingdom")
    whose initials the quote has ("UK")."""
    for run in re.finditer(r"(?:\b[A-Z][a-z]+(?:\s+(?:of|the|and|for)\s+|\s+)?){2,}", claim):
        words = [w for w in run.group(0).split() if w[:1].isupper()]
        if name in words and "".join(w[0] for w in words).lower() in quote_spellings:
            return True
    return False


@dataclass(frozen=True)
class Quote:
    """A span of a passage (document offsets) and how well it supports a claim."""

    start: int
    end: int
    text: str
    support: float


@dataclass(frozen=True)
class Verdict:
    quote: Quote | None  # the supporting quote, or None
    reason: str | None  # why nothing in the passage supports the claim


@dataclass(frozen=True)
class _Candidate:
    item: int  # which (claim, passage) of the batch
    start: int  # offsets into the passage text
    end: int
    paired: bool  # two adjacent sentences


class SupportChecker:
    """The gate of every answer sentence; the support model is given, loaded on first use."""

    def __init__(self, model: PairScorer, threshold: float = 0.5, max_quotes: int = 6) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"CITED_SUPPORT_THRESHOLD must be within (0, 1], got {threshold}")
        if max_quotes < 1:
            raise ConfigError(f"max_quotes must be at least 1, got {max_quotes}")
        self.model = model
        self.threshold = threshold
        self.max_quotes = max_quotes

    @staticmethod
    def candidates(passage: Passage) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Quotable spans of a passage (offsets into its text): the sentences that are not
        instructions, and the pairs of adjacent ones."""
        spans = [
            (s, e)
            for s, e in sentence_spans(passage.text)
            if not looks_like_instruction(passage.text[s:e])
        ]
        pairs = [
            (a[0], b[1])
            for a, b in itertools.pairwise(spans)
            if not looks_like_instruction(passage.text[a[0] : b[1]])
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
        for n, scored in self._read(items, later).items():
            verdicts[n] = self._decide(items[n][1], read.get(n, []) + scored)
        return [v for v in verdicts if v is not None]

    def _read(
        self, items: Sequence[tuple[str, Passage]], todo: list[_Candidate]
    ) -> dict[int, list[tuple[_Candidate, float, float]]]:
        """(candidate, P(supported), P(contradicted)) of each candidate, by item; one batch."""
        if not todo:
            return {}
        probabilities = self.model.probabilities(
            [
                (items[c.item][1].text[c.start : c.end], normalize_space(items[c.item][0]))
                for c in todo
            ]
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
                return Verdict(self._quote(passage, s, e, 1.0), None), []
        agreeing = [(s, e) for s, e in spans if not missing_terms(claim, passage.text[s:e])]
        swaps = {span: swapped_roles(claim, passage.text[span[0] : span[1]]) for span in agreeing}
        if agreeing and all(swaps.values()):
            return Verdict(
                None,
                f"the passage says it the other way round ({next(iter(swaps.values()))!r})",
            ), []
        agreeing = [span for span in agreeing if not swaps[span]]
        if not agreeing:
            quotable = " ".join(passage.text[s:e] for s, e in singles)
            missing = missing_terms(claim, quotable)
            if missing:
                return Verdict(
                    None, f"no quotable sentence of the passage contains {', '.join(missing)}"
                ), []
            return Verdict(
                None, "no sentence of the passage contains the claim's numbers and names together"
            ), []
        # The quotes sharing most words with the claim; the model reads only those.
        words = set(_tokens(claim))
        paired = set(pairs)
        ranked = sorted(
            agreeing,
            key=lambda span: (-len(words & set(_tokens(passage.text[span[0] : span[1]]))), span),
        )
        chosen = [s for s in ranked if s not in paired][: self.max_quotes]
        chosen += [s for s in ranked if s in paired][: self.max_quotes]
        return None, [_Candidate(n, s, e, (s, e) in paired) for s, e in chosen]

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
        return Verdict(self._quote(passage, chosen.start, chosen.end, score), None)

    @staticmethod
    def _quote(passage: Passage, start: int, end: int, support: float) -> Quote:
        return Quote(
            passage.start + start, passage.start + end, passage.text[start:end], min(1.0, support)
        )


def _clip(text: str, limit: int = 80) -> str:
    text = normalize_space(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
