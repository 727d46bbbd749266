"""Chunker invariants, property-tested with the real tokenizer of the bundled model."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from index import NewChunk
from index.embedder import HFTokenizer, resolve_model_path
from index.errors import ConfigError, ParseError
from ingest.chunking import PIECE_CHARS, Chunker
from ingest.parsing import Element


@pytest.fixture(scope="module")
def tokenizer() -> HFTokenizer:
    return HFTokenizer(AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2")))


WORDS = st.sampled_from(
    [
        "the",
        "Zebra",
        "ran",
        "1998",
        "café",
        "naïve",
        "extraordinarily",
        "U.S.A.",
        "e-mail",
        "x",
        "(see",
        "p.",
        "3)",
        "don't",
        "—",
        "日本語",
        "supercalifragilistic",
        "end.",
        "Why?",
        "\u200b",
        "😀",
    ]
)
SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", "\t", ""])
TEXTS = st.lists(st.tuples(WORDS, SEPARATORS), min_size=0, max_size=400).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)


def elements_of(text: str) -> list[Element]:
    """Paragraph elements at blank lines, like the parser produces."""
    found, position = [], 0
    for part in text.split("\n\n"):
        stripped = part.strip()
        if stripped:
            start = text.index(stripped, position)
            kind = "Title" if len(stripped) < 20 else "NarrativeText"
            found.append(Element(start, start + len(stripped), kind, 1 + start // 500, None))
            position = start + len(stripped)
    return found


def check_invariants(
    text: str, chunks: list[NewChunk], tokenizer: HFTokenizer, max_tokens: int, overlap: int
) -> None:
    if not any(end > start for start, end in tokenizer.offsets(text)):
        assert chunks == []  # nothing the model could read (blank, or only zero-width characters)
        return
    covered = [False] * len(text)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() or not chunk.text[-1:].isspace()
        assert chunk.n_tokens == tokenizer.count(chunk.text) <= max_tokens
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    for earlier, later in itertools.pairwise(chunks):
        assert earlier.start < later.start and earlier.end < later.end
        if overlap == 0:
            assert earlier.end <= later.start
    missed = [c for c, hit in zip(text, covered, strict=True) if not hit and not c.isspace()]
    assert missed == []


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=TEXTS, max_tokens=st.integers(8, 64), overlap_share=st.sampled_from([0, 0.1, 0.5]))
def test_chunks_slice_back_cover_the_text_in_order_and_fit_the_model(
    tokenizer: HFTokenizer, text: str, max_tokens: int, overlap_share: float
) -> None:
    overlap = int(max_tokens * overlap_share) // 1
    overlap = min(overlap, max_tokens // 2)
    chunker = Chunker(tokenizer, max_tokens, overlap)
    for elements in ([], elements_of(text)):
        chunks = chunker.chunk(text, elements)
        check_invariants(text, chunks, tokenizer, max_tokens, overlap)
        for chunk in chunks:  # a chunk never spans two pages
            pages = {el.page for el in elements if el.start < chunk.end and el.end > chunk.start}
            assert len(pages) <= 1, (chunk, pages)


def test_cuts_prefer_element_then_sentence_boundaries(tokenizer: HFTokenizer) -> None:
    sentences = [
        f"Sentence number {i} talks about topic {i} at some length here." for i in range(12)
    ]
    text = " ".join(sentences[:3]) + "\n\n" + " ".join(sentences[3:])  # boundary at ~39 tokens
    chunks = Chunker(tokenizer, 60, 0).chunk(text, elements_of(text))
    assert all(chunk.text.endswith(".") for chunk in chunks)
    assert any(chunk.end == text.index("\n\n") for chunk in chunks)


def test_a_title_does_not_force_a_chunk_of_its_own(tokenizer: HFTokenizer) -> None:
    paragraphs = ["Intro", "A short line.", "Another", "Also short.", "More", "Last line here."]
    text = "\n\n".join(paragraphs)
    elements = [
        Element(text.index(p), text.index(p) + len(p), "Title", None, None) for p in paragraphs
    ]
    assert len(Chunker(tokenizer, 64, 0).chunk(text, elements)) == 1


def test_overlap_repeats_the_end_of_the_previous_chunk_within_an_element(
    tokenizer: HFTokenizer,
) -> None:
    text = " ".join(f"Fact {i} is that item {i} weighs {i * 3} grams." for i in range(40))
    chunks = Chunker(tokenizer, 50, 12).chunk(text)
    assert len(chunks) > 3
    for earlier, later in itertools.pairwise(chunks):
        assert later.start < earlier.end  # shared text
        assert tokenizer.count(text[later.start : earlier.end]) <= 12


def test_pages_and_sections_come_from_the_element_at_the_chunk_start(
    tokenizer: HFTokenizer,
) -> None:
    first = "Results " * 40
    second = "Discussion " * 40
    text = first.strip() + "\n\n" + second.strip()
    split = text.index("\n\n")
    elements = [
        Element(0, split, "NarrativeText", 4, "Results"),
        Element(split + 2, len(text), "NarrativeText", 5, "Discussion"),
    ]
    chunks = Chunker(tokenizer, 45, 0).chunk(text, elements)
    assert [(c.page, c.section) for c in chunks] == [(4, "Results"), (5, "Discussion")]


def test_a_page_break_always_cuts(tokenizer: HFTokenizer) -> None:
    text = "Turbine report\n\nThe Zephyr turbine produced 812 kilowatts in March."
    split = text.index("\n\n")
    elements = [
        Element(0, split, "Title", 1, None),
        Element(split + 2, len(text), "NarrativeText", 2, None),
    ]
    chunks = Chunker(tokenizer, 256, 32).chunk(text, elements)
    assert [(c.text, c.page) for c in chunks] == [
        ("Turbine report", 1),
        ("The Zephyr turbine produced 812 kilowatts in March.", 2),
    ]


def test_blank_text_gives_no_chunks_and_bad_settings_are_named(tokenizer: HFTokenizer) -> None:
    assert Chunker(tokenizer, 32).chunk(" \n\t ") == []
    with pytest.raises(ConfigError, match="at least 8"):
        Chunker(tokenizer, 4)
    with pytest.raises(ConfigError, match="CITED_CHUNK_OVERLAP"):
        Chunker(tokenizer, 32, 20)


def test_a_text_over_the_chunk_cap_is_refused_with_the_setting(tokenizer: HFTokenizer) -> None:
    text = " ".join(f"Crane {i} lifted {i * 7} tonnes on a calm day." for i in range(80))
    tokens = len(tokenizer.offsets(text))
    exact = len(Chunker(tokenizer, 32, 0).chunk(text))
    assert len(Chunker(tokenizer, 32, 0, max_chunks=exact).chunk(text)) == exact
    # more tokens than 10 chunks can hold: refused before any cut
    with pytest.raises(ParseError, match=r"about \d+ chunks, over the limit of 10 chunks per "):
        Chunker(tokenizer, 32, 0, max_chunks=10).chunk(text)
    # few enough tokens for `exact - 1` full chunks, but the cuts make `exact`: found cutting
    assert (exact - 1) * 32 >= tokens
    with pytest.raises(ParseError, match=r"over the limit of \d+ chunks .*CITED_MAX_CHUNKS_PER_"):
        Chunker(tokenizer, 32, 0, max_chunks=exact - 1).chunk(text)
    with pytest.raises(ConfigError, match="CITED_MAX_CHUNKS_PER_FILE must be at least 1"):
        Chunker(tokenizer, 32, 0, max_chunks=0)


def test_a_long_text_is_tokenized_in_pieces_into_the_same_tokens(tokenizer: HFTokenizer) -> None:
    text = "\n\n".join(
        f"Paragraph {i}: the crane moved {i * 3} crates, naïvely, before the tide."
        for i in range(4_000)
    )
    assert len(text) > 2 * PIECE_CHARS
    whole = [(s, e) for s, e in tokenizer.offsets(text) if e > s]
    assert Chunker(tokenizer, 64)._spans(text) == whole
    chunks = Chunker(tokenizer, 64).chunk(text)
    check_invariants(text, chunks, tokenizer, 64, 0)
