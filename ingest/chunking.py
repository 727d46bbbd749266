"""Token-aware chunking with exact character offsets.

The document text is tokenized once with the embedding model's own tokenizer. A chunk is a
run of at most `max_tokens` tokens (the model's limit minus special and prompt tokens, so
the model never truncates silently), cut at the best break point in the second half of the
window:

    4 before a title element   3 before any element   2 line break or sentence end
    1 between words            0.5 at punctuation      0 inside a word (last resort)

A page break is a forced cut, so a chunk's page is the page of everything it quotes.
Titles are preferred break points, not forced ones: offline element classification calls
many short paragraphs "Title", and a chunk per sentence would be useless. Overlap (in
tokens) is added only when a cut falls inside an element; the next chunk then starts at the
earliest sentence or word boundary within the overlap.

Invariants (property-tested): `text[chunk.start:chunk.end] == chunk.text`; chunks are in
order; every non-whitespace character is in some chunk; re-tokenizing a chunk gives at most
`max_tokens` tokens.

A file's chunks are capped (`max_chunks`, CITED_MAX_CHUNKS_PER_FILE): each costs an embedding,
and a file of a few megabytes on one line or in one cell makes thousands of them, which held
a whole batch (and every upload behind it) for minutes. A file over the cap fails with the
setting named, and as early as its token count shows it: a chunk holds at most `max_tokens`
tokens, so more than `max_chunks * max_tokens` of them settle it before any chunk is cut.
The text is tokenized in pieces of `PIECE_CHARS` cut at white space (the same tokens, for
tokenizers that split words at white space; the re-count below covers the others), and
the count stops at that bound, so a 10 MB text costs the tokens of the cap, not its own.
Not done: truncating such a file to its first chunks (its later text would be missing from
answers with nothing to say so).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from index import NewChunk, Tokenizer
from index.errors import ConfigError, ParseError
from ingest.parsing import Element, ParsedFile

# A chunk is re-tokenized on its own only when its count could differ from its share of the
# whole-text tokenization: when it starts or ends inside a word, or is this close to the limit
# (tokenizers that look across a boundary differ by a token or two there). Elsewhere the
# counts agree, which the property tests check; skipping the re-count halves chunking time.
VERIFY_MARGIN = 8
PIECE_CHARS = 100_000  # a text is tokenized in pieces of at most this, cut at white space
SENTENCE_END = frozenset(".!?;:\u3002\uff01\uff1f")
CLOSERS = frozenset("\"')]}\u201d\u2019")


def too_many_chunks(count: int, limit: int, exact: bool) -> str:
    """The reason a file over the chunk cap fails with."""
    about = "" if exact else "about "
    return (
        f"the file's text makes {about}{count:,} chunks, over the limit of {limit:,} chunks "
        "per file (CITED_MAX_CHUNKS_PER_FILE); split the file, or raise the limit"
    )


class Chunker:
    def __init__(
        self,
        tokenizer: Tokenizer,
        max_tokens: int,
        overlap_tokens: int = 0,
        max_chunks: int | None = None,
    ) -> None:
        """`max_chunks`: a text making more chunks raises ParseError (None: no cap)."""
        if max_chunks is not None and max_chunks < 1:
            raise ConfigError(f"CITED_MAX_CHUNKS_PER_FILE must be at least 1, got {max_chunks}")
        if max_tokens < 8:
            raise ConfigError(f"chunk size must be at least 8 tokens, got {max_tokens}")
        if not 0 <= overlap_tokens <= max_tokens // 2:
            raise ConfigError(
                f"CITED_CHUNK_OVERLAP must be between 0 and half the chunk size "
                f"({max_tokens // 2}), got {overlap_tokens}"
            )
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.max_chunks = max_chunks

    def chunk(self, text: str, elements: Sequence[Element] = ()) -> list[NewChunk]:
        """The text's chunks; ParseError when they would be more than `max_chunks`."""
        spans = self._spans(text)
        if not spans:
            return []
        cap = self.max_chunks
        starts = [s for s, _ in spans]
        ends = [e for _, e in spans]
        scores = self._break_scores(text, starts, ends, elements)
        element_starts = [el.start for el in elements]
        pages = self._page_breaks(starts, elements)
        for i in pages:
            scores[i] = 5.0  # no overlap across a page break
        n = len(spans)
        chunks: list[NewChunk] = []
        first = previous_cut = 0
        while first < n:
            at = bisect.bisect_right(pages, first)
            if at < len(pages) and pages[at] - first <= self.max_tokens:
                cut = pages[at]  # a chunk never spans two pages: its page is its quotes' page
            elif n - first <= self.max_tokens:
                cut = n
            else:
                cut = self._best_cut(scores, first, previous_cut)
            inside_word = scores[first] == 0 if first else False
            inside_word = inside_word or (cut < n and scores[cut] == 0)
            chunk, cut = self._make_chunk(
                text, starts, ends, first, cut, elements, element_starts, inside_word
            )
            chunks.append(chunk)
            if cut >= n:
                break
            if cap is not None and len(chunks) >= cap:  # and text is left: one more at least
                estimate = max(cap + 1, round(len(chunks) * n / cut))
                raise ParseError(too_many_chunks(estimate, cap, False))
            first, previous_cut = self._next_start(scores, first, cut), cut
        return chunks

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """The text's token spans, tokenized a piece at a time; ParseError as soon as they
        are more than `max_chunks` full chunks could hold."""
        bound = None if self.max_chunks is None else self.max_chunks * self.max_tokens
        spans: list[tuple[int, int]] = []
        start = 0
        while start < len(text):
            end = min(len(text), start + PIECE_CHARS)
            if end < len(text):
                cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
                end = cut if cut > start else end
            piece = self.tokenizer.offsets(text[start:end])
            spans += [(s + start, e + start) for s, e in piece if e > s]
            if bound is not None and self.max_chunks is not None and len(spans) > bound:
                tokens = len(spans) * len(text) / end  # the whole text's, at this rate
                estimate = math.ceil(tokens / self.max_tokens)
                raise ParseError(too_many_chunks(estimate, self.max_chunks, False))
            start = end
        return spans

    @staticmethod
    def _page_breaks(starts: list[int], elements: Sequence[Element]) -> list[int]:
        """Ascending token indices where a new page begins."""
        breaks: list[int] = []
        page = elements[0].page if elements else None
        for el in elements[1:]:
            if el.page != page:
                page = el.page
                i = bisect.bisect_left(starts, el.start)
                if 0 < i < len(starts) and (not breaks or breaks[-1] < i):
                    breaks.append(i)
        return breaks

    def _best_cut(self, scores: list[float], first: int, previous_cut: int) -> int:
        # Past the previous cut, or an overlapping chunk could end where the last one did.
        low = max(first + max(1, self.max_tokens // 2), previous_cut + 1)
        high = first + self.max_tokens
        best = high
        best_score = scores[high]
        for i in range(high - 1, low - 1, -1):
            if scores[i] > best_score:
                best, best_score = i, scores[i]
        return best

    def _next_start(self, scores: list[float], first: int, cut: int) -> int:
        if self.overlap_tokens == 0 or scores[cut] >= 3:
            return cut
        window = range(max(first + 1, cut - self.overlap_tokens), cut)
        for threshold in (2, 1):
            for i in window:
                if scores[i] >= threshold:
                    return i
        return cut

    def _make_chunk(
        self,
        text: str,
        starts: list[int],
        ends: list[int],
        first: int,
        cut: int,
        elements: Sequence[Element],
        element_starts: list[int],
        inside_word: bool,
    ) -> tuple[NewChunk, int]:
        # The first chunk also takes any leading characters the tokenizer dropped.
        start = starts[first] if first else min(starts[0], len(text) - len(text.lstrip()))
        while True:
            # Extend over characters the tokenizer dropped, up to the next token.
            limit = starts[cut] if cut < len(starts) else len(text)
            end = ends[cut - 1]
            end += len(text[end:limit].rstrip())
            chunk_text = text[start:end]
            n_tokens = cut - first
            if inside_word or n_tokens > self.max_tokens - VERIFY_MARGIN:
                n_tokens = len(self.tokenizer.offsets(chunk_text))
            if n_tokens <= self.max_tokens or cut - first <= 1:
                break
            # Tokenized alone the chunk came out longer (tokenizers that look across
            # boundaries); give back the excess and try again.
            cut = max(first + 1, cut - (n_tokens - self.max_tokens))
        page, section = None, None
        if elements:
            at = max(0, bisect.bisect_right(element_starts, start) - 1)
            page, section = elements[at].page, elements[at].section
        return NewChunk(chunk_text, start, end, n_tokens, page, section), cut

    @staticmethod
    def _break_scores(
        text: str, starts: list[int], ends: list[int], elements: Sequence[Element]
    ) -> list[float]:
        """scores[i] = how good it is to cut just before token i (index len = n + 1)."""
        element_kind = {el.start: el.kind for el in elements}
        n = len(starts)
        scores = [0.0] * (n + 1)
        scores[n] = 5.0
        for i in range(1, n):
            s, prev_end = starts[i], ends[i - 1]
            if s < prev_end:
                continue  # overlapping tokens (one character, several tokens)
            kind = element_kind.get(s)
            if kind is not None:
                scores[i] = 4.0 if kind == "Title" else 3.0
                continue
            gap = text[prev_end:s]
            if gap:
                if "\n" in gap:
                    scores[i] = 2.0
                    continue
                j = prev_end - 1
                while j > starts[i - 1] and text[j] in CLOSERS:
                    j -= 1
                scores[i] = 2.0 if text[j] in SENTENCE_END else 1.0
            elif not (text[s].isalnum() and text[prev_end - 1].isalnum()):
                scores[i] = 0.5
        return scores


@dataclass(frozen=True)
class Chunked:
    """A parsed file and its chunks; seconds spent on each (where the work ran). The
    elements have served: they are left out, so the chunks travel back alone."""

    parsed: ParsedFile
    chunks: list[NewChunk]
    chunk_seconds: float


@dataclass(frozen=True)
class Chunking:
    """How the processes that parse (local parser processes, Ray tasks) chunk: picklable,
    sent to each once."""

    tokenizer: Tokenizer  # the document encoder's
    max_tokens: int
    overlap: int
    max_chunks: int | None = None

    def chunker(self) -> Chunker:
        return Chunker(self.tokenizer, self.max_tokens, self.overlap, self.max_chunks)


def chunk_parsed(chunker: Chunker, parsed: ParsedFile) -> Chunked:
    """Chunk a parsed file (ParseError over the chunk cap)."""
    started = time.perf_counter()
    chunks = chunker.chunk(parsed.text, parsed.elements)
    return Chunked(replace(parsed, elements=()), chunks, time.perf_counter() - started)
