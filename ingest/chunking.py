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
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from index import NewChunk, Tokenizer
from index.errors import ConfigError
from ingest.parsing import Element

# A chunk is re-tokenized on its own only when its count could differ from its share of the
# whole-text tokenization: when it starts or ends inside a word, or is this close to the limit
# (tokenizers that look across a boundary differ by a token or two there). Elsewhere the
# counts agree, which the property tests check; skipping the re-count halves chunking time.
VERIFY_MARGIN = 8
SENTENCE_END = frozenset(".!?;:\u3002\uff01\uff1f")
CLOSERS = frozenset("\"')]}\u201d\u2019")


class Chunker:
    def __init__(self, tokenizer: Tokenizer, max_tokens: int, overlap_tokens: int = 0) -> None:
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

    def chunk(self, text: str, elements: Sequence[Element] = ()) -> list[NewChunk]:
        spans = [(s, e) for s, e in self.tokenizer.offsets(text) if e > s]
        if not spans:
            return []
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
            first, previous_cut = self._next_start(scores, first, cut), cut
        return chunks

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
