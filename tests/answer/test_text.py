"""Sentence spans and citation markers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from answer.text import Claim, is_heading, parse_claims, sentence_spans, sentences, with_markers


def test_sentences_respect_abbreviations_initials_and_decimals() -> None:
    text = (
        "Dr. Smith arrived at 3 p.m. on Jan. 5. It rained!\n\nNew paragraph without stop\n"
        "- item one\n- item two. J. R. R. Tolkien wrote it. The U.S. economy grew 3.5% in 2020."
    )
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Dr. Smith arrived at 3 p.m. on Jan. 5.",
        "It rained!",
        "New paragraph without stop",
        "- item one",
        "- item two.",
        "J. R. R. Tolkien wrote it.",
        "The U.S. economy grew 3.5% in 2020.",
    ]


@given(st.text(alphabet=st.sampled_from("ab .!?\n\"'A1,"), max_size=200))
def test_spans_are_ordered_trimmed_and_cover_every_word(text: str) -> None:
    spans = sentence_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert text[start:end] == text[start:end].strip()
        previous_end = end
    covered = "".join(text[s:e] for s, e in spans)
    assert "".join(covered.split()) == "".join(text.split())


def test_a_stop_inside_brackets_does_not_end_the_sentence() -> None:
    text = (
        "Experts agree it will take a few years (2-3?) before the first closure. "
        "Prices rose [see the note. above] sharply. (See the appendix.) Then it ended."
    )
    assert sentences(text) == [
        "Experts agree it will take a few years (2-3?) before the first closure.",
        "Prices rose [see the note. above] sharply.",
        "(See the appendix.)",
        "Then it ended.",
    ]
    # An unclosed bracket does not swallow what follows a capitalised sentence start.
    assert sentences("It failed (badly. Then we left.") == ["It failed (badly.", "Then we left."]


def test_a_quoted_question_inside_a_sentence_does_not_end_it() -> None:
    text = (
        'Questions such as "and how long does it take?" are understood. '
        'He asked "why?" Then he left. "Stop!" she said.'
    )
    assert sentences(text) == [
        'Questions such as "and how long does it take?" are understood.',
        'He asked "why?"',
        "Then he left.",
        '"Stop!" she said.',
    ]


def test_claims_take_markers_in_every_usual_place() -> None:
    reply = "The bridge was rebuilt in 1887 [1]. It flooded. [2] Both are true [1, 3]. Ends here[4]"
    assert parse_claims(reply) == [
        Claim("The bridge was rebuilt in 1887.", (1,)),
        Claim("It flooded.", (2,)),
        Claim("Both are true.", (1, 3)),
        Claim("Ends here", (4,)),
    ]
    assert parse_claims("No citation at all.") == [Claim("No citation at all.", ())]
    assert parse_claims("[1] [2]") == []


def test_markers_go_before_the_final_punctuation() -> None:
    assert with_markers("A is B.", (1, 2)) == "A is B [1][2]."
    assert with_markers('He said "stop."', (3,)) == 'He said "stop [3]."'
    assert with_markers("No stop", (1,)) == "No stop [1]."


@pytest.mark.parametrize(
    ("line", "heading"),
    [
        ("Findings of the review", True),
        ("  Rate limits \n", True),
        ("The kinase activates the pathway.", False),
        ("How do I reset it?", False),
        ("Default port:", False),
        ("A line of twelve words or more that has no stop at its end at all", False),
    ],
)
def test_a_heading_is_a_short_line_without_a_closing_mark(line: str, heading: bool) -> None:
    assert is_heading(line) is heading
