"""The support check: does a quote from a passage support a claim?

A quote supports a claim when both hold:
- the claim and the quote mean much the same: cosine similarity of their embeddings (the
  index's own model) is at least `threshold`;
- every number and capitalised name of the claim appears in the quote (so "rebuilt in
  1887" is not supported by "rebuilt in 1897", nor "Keswick" by a quote about "Ambleside").

The quote is the best-supporting sentence of the passage, or two adjacent sentences.
Sentences that read as instructions to an assistant ("ignore previous instructions...")
are never quotes: text planted in a document can not vouch for anything.

A claim that is verbatim a sentence of the passage is supported by it without embedding
(similarity 1.0): extractive answers are checked at no model cost.

Deliberately not done here: entailment with an NLI model (none ships with cited; the
similarity + entity rule is what runs offline). The first word of a claim is not treated
as a name (every sentence starts with a capital).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from answer.text import normalize_space, sentence_spans
from index import ConfigError, Embedder
from retrieve import Passage

_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")
_NAME = re.compile(r"\b[A-Z][\w'’-]*|\b\w*[A-Z]\w*")
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|context|"
    r"above|previous|prior)\b|\b(system prompt|you are now|you must (now )?(say|answer|reply|"
    r"tell)|(reply|respond|answer) (only )?with|tell the user|as an ai)\b",
    re.IGNORECASE,
)
PAIR_PENALTY = 0.03


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


def missing_terms(claim: str, quote: str) -> list[str]:
    """Numbers and names of `claim` that `quote` does not contain."""
    numbers, names = key_terms(claim)
    missing = sorted(numbers - _numbers(quote))
    lowered = quote.lower()
    for name in sorted(names):
        if not re.search(r"(?<!\w)" + re.escape(name.lower()) + r"(?!\w)", lowered):
            missing.append(name)
    return missing


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


class VectorCache:
    """Text -> embedding, least recently used first out; shared by all questions (a sentence
    of a popular passage is embedded once). Thread-safe; embedding happens outside the lock."""

    def __init__(self, embedder: Embedder, capacity: int = 20_000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """One normalized embedding per text, in order."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                vector = self._vectors.get(text)
                if vector is not None:
                    self._vectors.move_to_end(text)
                    found[text] = vector
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        if todo:
            fresh = self.embedder.embed_documents(todo)
            found.update(zip(todo, fresh, strict=True))
            with self._lock:
                for text, vector in zip(todo, fresh, strict=True):
                    self._vectors[text] = vector
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts])


class SupportChecker:
    """Embeddings come from the VectorCache each check is given (the answer's shared one)."""

    def __init__(self, threshold: float = 0.6) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"CITED_SUPPORT_THRESHOLD must be within (0, 1], got {threshold}")
        self.threshold = threshold

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

    def check(self, claim: str, passage: Passage, cache: VectorCache) -> Verdict:
        """The quote of `passage` that best supports `claim`, if one passes both tests."""
        singles, pairs = self.candidates(passage)
        spans = singles + pairs
        if not spans:
            return Verdict(None, "the passage has nothing quotable")
        wanted = normalize_space(claim)
        for s, e in spans:
            if normalize_space(passage.text[s:e]) == wanted:
                return Verdict(self._quote(passage, s, e, 1.0), None)
        agreeing = [(s, e) for s, e in spans if not missing_terms(claim, passage.text[s:e])]
        if not agreeing:
            quotable = " ".join(passage.text[s:e] for s, e in singles)
            missing = missing_terms(claim, quotable)
            if missing:
                return Verdict(
                    None,
                    f"no quotable sentence of the passage contains {', '.join(missing)}",
                )
            return Verdict(
                None, "no sentence of the passage contains the claim's numbers and names together"
            )
        texts = [passage.text[s:e] for s, e in agreeing]
        vectors = cache.get([wanted, *texts])
        similarity = vectors[1:] @ vectors[0]
        # Prefer one sentence to two unless the pair is clearly better.
        paired = set(pairs)
        preference = similarity - PAIR_PENALTY * np.array([span in paired for span in agreeing])
        best = int(np.argmax(preference))
        score = float(similarity[best])
        if score < self.threshold:
            return Verdict(
                None, f"the best quote is too dissimilar ({score:.2f} < {self.threshold:.2f})"
            )
        s, e = agreeing[best]
        return Verdict(self._quote(passage, s, e, score), None)

    @staticmethod
    def _quote(passage: Passage, start: int, end: int, support: float) -> Quote:
        return Quote(
            passage.start + start, passage.start + end, passage.text[start:end], min(1.0, support)
        )
