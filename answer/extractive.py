"""Extractive answers: the sentences of the retrieved passages that answer the question,
each cited to its exact span. No language model.

The answer model (answer.models, trained by training/) reads the question with each
candidate sentence and the sentence before it (a document often restates the question
just before answering it: "Ask anyone which bridge is the oldest." "Most will name the
Elm Street bridge.") and gives P(the sentence answers the question).

Reading every sentence of every passage would cost more than the rest of a question
together, so a cheap score (the question's content words in the sentence, the passage's
similarity) shortlists SHORTLIST sentences, plus the sentence after each of the best few.
Headings, titles, questions, instructions and drawings (ASCII diagrams) are never
candidates. A sentence ending in a
colon is read together with the line it introduces (a command, a setting, a list item):
neither answers alone.

The best probability is the evidence: under `threshold` the answerer abstains. Up to
`max_sentences` sentences with a probability of at least `keep_ratio` of the best are
returned, best first. Both are calibrated across five kinds of text written by others
(training/calibrate.py, on the calibration documents of bench/kinds) and written in the
model's manifest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from answer.models import PairScorer
from answer.support import looks_like_instruction
from answer.text import HEADING_WORDS, TERMINAL, Claim, normalize_space, sentence_spans
from index import ConfigError
from index.lexical import STOP_WORDS
from retrieve import Passage

W_OVERLAP = 0.7
W_PASSAGE = 0.3
SHORTLIST = 6
FOLLOWERS = 3  # the sentence after each of the best few is read too
MIN_WORDS = 3
DEFAULT_THRESHOLD = 0.5  # for a swapped-in model that brings no calibrated threshold
DEFAULT_KEEP_RATIO = 0.85

_WORD = re.compile(r"\w+")
_INTRODUCED = re.compile(r":\s*\n")
# a drawing (an ASCII diagram's arrows and box corners: "<-----+", "+----") is no
# statement to quote; a rule or a heading's underline alone ("-----", "=====") is not one
_DRAWING = re.compile(r"[<>+|][-=_]{3,}|[-=_]{3,}[<>+|]")


def stem(word: str) -> str:
    """A crude English stem, enough to match "rebuilt bridges" with "bridge"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS}


def answer_pair(sentences: Sequence[str], i: int) -> str:
    """The answer model's second text for sentence i: the sentence, then the one before."""
    if i > 0 and sentences[i - 1]:
        return f"{sentences[i]} [SEP] {sentences[i - 1]}"
    return sentences[i]


def introduced(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`spans` with each sentence that ends in a colon joined to the line it introduces
    ("..., use PostgreSQL:" + "export CITED_DATABASE_URL=..."): the two are one answer,
    and neither answers alone."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        start, end = spans[i]
        if text[start:end].rstrip().endswith(":") and i + 1 < len(spans):
            out.append((start, spans[i + 1][1]))
            i += 2
        else:
            out.append((start, end))
            i += 1
    return out


@dataclass(frozen=True)
class Scored:
    passage: int  # index into the passages
    text: str  # whitespace-normalized sentence
    score: float  # P(the sentence answers the question)


@dataclass(frozen=True)
class Extract:
    claims: tuple[Claim, ...]
    best: float  # the best sentence's score (0 when there was none)
    reason: str | None  # why nothing was extracted


@dataclass(frozen=True)
class _Candidate:
    cheap: float
    passage: int
    text: str  # normalized
    pair: str  # what the model reads after the question


class ExtractiveAnswerer:
    def __init__(
        self,
        model: PairScorer,
        threshold: float | None = None,
        max_sentences: int = 3,
        keep_ratio: float | None = None,
    ) -> None:
        """`threshold`, `keep_ratio`: None takes the model's calibrated ones
        (DEFAULT_THRESHOLD, DEFAULT_KEEP_RATIO for a model that has none)."""
        if threshold is not None and not 0.0 <= threshold < 1.0:
            raise ConfigError(f"CITED_ABSTAIN_THRESHOLD must be within [0, 1), got {threshold}")
        if not 1 <= max_sentences <= 20:
            raise ConfigError(
                f"CITED_ANSWER_SENTENCES must be between 1 and 20, got {max_sentences}"
            )
        if keep_ratio is not None and not 0.0 <= keep_ratio <= 1.0:
            raise ConfigError(f"keep_ratio must be within [0, 1], got {keep_ratio}")
        self.model = model
        self._threshold = threshold
        self.max_sentences = max_sentences
        self._keep_ratio = keep_ratio

    @property
    def threshold(self) -> float:
        if self._threshold is not None:
            return self._threshold
        calibrated = self.model.loaded.threshold
        return DEFAULT_THRESHOLD if calibrated is None else calibrated

    @property
    def keep_ratio(self) -> float:
        if self._keep_ratio is not None:
            return self._keep_ratio
        calibrated = self.model.loaded.keep_ratio
        return DEFAULT_KEEP_RATIO if calibrated is None else calibrated

    def candidates(
        self, question: str, passages: Sequence[Passage], shortlist: int = SHORTLIST
    ) -> list[_Candidate]:
        """The sentences worth reading, best cheap score first: the `shortlist` best, and
        the sentence after each of the best few."""
        wanted = content_terms(question)
        asked = normalize_space(question).lower()
        ranked: list[_Candidate] = []
        following: dict[_Candidate, _Candidate] = {}
        seen: set[str] = set()
        for index, passage in enumerate(passages):
            spans = introduced(passage.text, sentence_spans(passage.text))
            raws = [passage.text[s:e] for s, e in spans]
            texts = [normalize_space(r) for r in raws]
            previous: _Candidate | None = None
            for n, (raw, text) in enumerate(zip(raws, texts, strict=True)):
                if not self._quotable(n, raw, text, passage, asked) or text in seen:
                    previous = None
                    continue
                seen.add(text)
                overlap = len(wanted & content_terms(text)) / len(wanted) if wanted else 0.0
                candidate = _Candidate(
                    W_OVERLAP * overlap + W_PASSAGE * passage.similarity,
                    index,
                    text,
                    answer_pair(texts, n),
                )
                ranked.append(candidate)
                if previous is not None:
                    following[previous] = candidate
                previous = candidate
        ranked.sort(key=lambda c: -c.cheap)
        chosen = ranked[:shortlist]
        for top in ranked[:FOLLOWERS]:
            after = following.get(top)
            if after is not None and after not in chosen:
                chosen.append(after)
        return chosen

    @staticmethod
    def _quotable(n: int, raw: str, text: str, passage: Passage, asked: str) -> bool:
        if len(text.split()) < MIN_WORDS or looks_like_instruction(raw) or _DRAWING.search(raw):
            return False
        if n == 0 and raw[:1].islower():  # a chunk that starts mid-sentence
            return False
        if text.rstrip("\"'”’)] ").endswith("?"):
            return False  # a question the document asks is not its answer
        if text.lower() == asked or (passage.title and text == normalize_space(passage.title)):
            return False
        if _INTRODUCED.search(raw):  # a sentence and the line it introduces
            return True
        return bool(TERMINAL.search(raw)) or len(text.split()) >= HEADING_WORDS

    def score(self, question: str, passages: Sequence[Passage]) -> list[Scored]:
        """Candidate sentences with P(answers), best first."""
        candidates = self.candidates(question, passages)
        if not candidates:
            return []
        probabilities = self.model.probabilities([(question, c.pair) for c in candidates])
        answers = self.model.column(probabilities, "answers")
        scored = [
            Scored(c.passage, c.text, float(p)) for c, p in zip(candidates, answers, strict=True)
        ]
        return sorted(scored, key=lambda s: -s.score)

    def extract(self, question: str, passages: Sequence[Passage]) -> Extract:
        if not passages:
            return Extract((), 0.0, "no passage matched the question")
        scored = self.score(question, passages)
        if not scored:
            return Extract((), 0.0, "the retrieved passages have no complete sentences to quote")
        best = scored[0].score
        threshold = self.threshold
        if best < threshold:
            return Extract(
                (),
                best,
                f"no sentence of the passages answers it (best P(answers) {best:.2f}, under the "
                f"threshold {threshold:.2f}): the documents do not seem to answer this",
            )
        chosen = [s for s in scored if s.score >= max(threshold, self.keep_ratio * best)]
        claims = tuple(Claim(s.text, (s.passage + 1,)) for s in chosen[: self.max_sentences])
        return Extract(claims, best, None)
