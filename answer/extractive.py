"""Extractive answers: the sentences of the retrieved passages that best answer the
question, each cited to its exact span. No language model.

Each sentence is scored as

    score = W_SIMILARITY * cos(question, sentence)
          + W_OVERLAP    * share of the question's content words in the sentence
          + W_PASSAGE    * cos(question, the sentence's passage)

Embedding every sentence of every passage would cost more than the rest of a question
together, so only the SHORTLIST sentences with the best overlap-and-passage score are
embedded. The best score is the evidence: under `min_score` (calibrated by
bench/quality.py on SQuAD 2.0) the answerer abstains. Up to `max_sentences` sentences
scoring at least `keep_ratio` of the best are returned, best first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from answer.support import VectorCache, looks_like_instruction
from answer.text import Claim, normalize_space, sentence_spans
from index import ConfigError
from index.lexical import STOP_WORDS
from retrieve import Passage

W_SIMILARITY = 0.5
W_OVERLAP = 0.35
W_PASSAGE = 0.15
SHORTLIST = 3  # bench: containment 0.716 at 3, 0.723 at 5; each sentence costs ~8 ms
MIN_WORDS = 4
HEADING_WORDS = 12  # unpunctuated lines shorter than this are headings
TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")

_WORD = re.compile(r"\w+")


def stem(word: str) -> str:
    """A crude English stem, enough to match "rebuilt bridges" with "bridge"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS}


@dataclass(frozen=True)
class Scored:
    passage: int  # index into the passages
    text: str  # whitespace-normalized sentence
    score: float


@dataclass(frozen=True)
class Extract:
    claims: tuple[Claim, ...]
    best: float  # the best sentence's score (0 when there was none)
    reason: str | None  # why nothing was extracted


class ExtractiveAnswerer:
    def __init__(
        self, min_score: float = 0.52, max_sentences: int = 3, keep_ratio: float = 0.85
    ) -> None:
        if not 0.0 <= min_score < 1.0:
            raise ConfigError(f"CITED_ABSTAIN_THRESHOLD must be within [0, 1), got {min_score}")
        if not 1 <= max_sentences <= 20:
            raise ConfigError(
                f"CITED_ANSWER_SENTENCES must be between 1 and 20, got {max_sentences}"
            )
        if not 0.0 < keep_ratio <= 1.0:
            raise ConfigError(f"keep_ratio must be within (0, 1], got {keep_ratio}")
        self.min_score = min_score
        self.max_sentences = max_sentences
        self.keep_ratio = keep_ratio

    def score(
        self,
        question: str,
        query_vector: np.ndarray,
        passages: Sequence[Passage],
        cache: VectorCache,
    ) -> list[Scored]:
        """Candidate sentences, best first (only the shortlist is scored in full)."""
        wanted = content_terms(question)
        candidates: list[tuple[float, float, int, str]] = []  # (cheap, overlap, passage, text)
        seen: set[str] = set()
        for index, passage in enumerate(passages):
            for n, (s, e) in enumerate(sentence_spans(passage.text)):
                raw = passage.text[s:e]
                text = normalize_space(raw)
                if text in seen or len(text.split()) < MIN_WORDS or looks_like_instruction(raw):
                    continue
                if n == 0 and raw[:1].islower():  # a chunk that starts mid-sentence
                    continue
                if not TERMINAL.search(raw) and len(text.split()) < HEADING_WORDS:
                    continue  # a heading or a label, not a statement
                seen.add(text)
                overlap = len(wanted & content_terms(text)) / len(wanted) if wanted else 0.0
                cheap = W_OVERLAP * overlap + W_PASSAGE * passage.similarity
                candidates.append((cheap, overlap, index, text))
        candidates.sort(key=lambda c: -c[0])
        shortlist = candidates[:SHORTLIST]
        if not shortlist:
            return []
        vectors = cache.get([c[3] for c in shortlist])
        similarity = vectors @ query_vector
        scored = [
            Scored(index, text, float(W_SIMILARITY * sim + cheap))
            for (cheap, _, index, text), sim in zip(shortlist, similarity, strict=True)
        ]
        return sorted(scored, key=lambda s: -s.score)

    def extract(
        self,
        question: str,
        query_vector: np.ndarray,
        passages: Sequence[Passage],
        cache: VectorCache,
    ) -> Extract:
        if not passages:
            return Extract((), 0.0, "no passage matched the question")
        scored = self.score(question, query_vector, passages, cache)
        if not scored:
            return Extract((), 0.0, "the retrieved passages have no complete sentences to quote")
        best = scored[0].score
        if best < self.min_score:
            return Extract(
                (),
                best,
                f"the best evidence scores {best:.2f}, under the threshold {self.min_score:.2f}: "
                "the documents do not seem to answer this",
            )
        chosen = [s for s in scored if s.score >= max(self.min_score, self.keep_ratio * best)]
        claims = tuple(Claim(s.text, (s.passage + 1,)) for s in chosen[: self.max_sentences])
        return Extract(claims, best, None)
