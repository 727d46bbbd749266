"""Sentences and citation markers.

`sentence_spans` splits text into sentences with character offsets (so a sentence can be
cited as text[start:end]); `parse_claims` turns a reply such as "A is B [1]. C [2][3]."
into claims with their cited numbers; `with_markers` writes a claim back with new numbers.

Deliberately a small rule-based splitter (terminal punctuation followed by a capital,
paragraph breaks, list lines), not a language model: it must give the same spans for the
same text every time, cost microseconds and need no download.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "cf",
        "al",
        "fig",
        "figs",
        "no",
        "nos",
        "vol",
        "vols",
        "ed",
        "eds",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "univ",
        "approx",
        "est",
        "ca",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "rev",
        "hon",
        "gov",
        "pres",
        "sen",
        "rep",
        "u.s",
        "u.k",
        "u.n",
        "a.m",
        "p.m",
        "op",
        "pp",
        "ch",
        "sec",
        "art",
    ]
)

HEADING_WORDS = 12  # unpunctuated lines shorter than this are headings
TERMINAL = re.compile(r"[.!…][\"'”’)\]]*$")  # a statement's end ("?" asks, ":" introduces)

_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)]|#))")
_WORD_BEFORE = re.compile(r"([\w.]+)[.!?…]+[\"'”’)\]]*$")
_MARKER_GROUP = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_MARKER = re.compile(r"\s*\[(\d+)\]")
_MARKERS_AFTER_STOP = re.compile(r"([.!?…]+)((?:\s*\[\d+\])+)")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, in order, trimmed of surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        stop = match.group()[0] in ".!?…"
        if stop and not _ends_sentence(text, start, match.start(), end):
            continue
        _add(spans, text, start, end)
        start = end
    _add(spans, text, start, len(text))
    return spans


def is_heading(sentence: str) -> bool:
    """A title rather than a statement: fewer than HEADING_WORDS words and no closing
    mark ("Findings of the review", "Rate limits"). A line that asks ("How do I reset?")
    or introduces ("Default port:") is no heading: it belongs with what follows."""
    text = sentence.strip()
    closed = TERMINAL.search(text) or text.endswith(("?", ":", ";"))
    return not closed and len(text.split()) < HEADING_WORDS


def _ends_sentence(text: str, start: int, stop: int, end: int) -> bool:
    """False after an abbreviation or an initial ("Dr. Smith", "J. R. R. Tolkien"), and
    inside brackets when the sentence goes on in lower case ("a few years (2-3?) before
    the first closure"), and after a quoted question or exclamation when the sentence goes
    on in lower case ('questions such as "how long?" are understood'). Elsewhere a lower
    case word after a full stop still starts a sentence: names such as "cited" or "iPhone"
    begin sentences too."""
    goes_on = text[end:].lstrip()[:1].islower()
    if goes_on and _open_brackets(text[start:stop]):
        return False
    if goes_on and text[stop] in "?!" and text[end - 1] in "\"'”’":
        return False
    before = _WORD_BEFORE.search(text[start:end])
    if before and text[stop] == ".":
        word = before.group(1).lower().rstrip(".")
        if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            return False
    return True


def _open_brackets(text: str) -> bool:
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
    return depth > 0


def _add(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((start + lead, start + lead + len(stripped)))


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


@dataclass(frozen=True)
class Claim:
    """One sentence of a reply, its markers removed, and the passage numbers it cited."""

    text: str
    cited: tuple[int, ...]


def parse_claims(reply: str) -> list[Claim]:
    """Claims of a reply, in order. "[1, 2]" counts as [1][2]; markers written after the
    full stop ("... B. [1]") belong to the sentence before them."""
    text = _MARKER_GROUP.sub(
        lambda m: "".join(f"[{n}]" for n in re.split(r"\s*[,;]\s*", m.group(1))), reply
    )
    text = _MARKERS_AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), text)
    claims = []
    for sentence in sentences(text):
        cited = tuple(dict.fromkeys(int(n) for n in _MARKER.findall(sentence)))
        plain = normalize_space(_MARKER.sub("", sentence))
        plain = re.sub(r"\s+([.,;:!?…])", r"\1", plain)
        if any(ch.isalnum() for ch in plain):
            claims.append(Claim(plain, cited))
    return claims


def with_markers(text: str, numbers: tuple[int, ...]) -> str:
    """`text` with "[n]" markers before its final punctuation: "A is B [1][2]."."""
    marks = "".join(f"[{n}]" for n in numbers)
    body = text.rstrip()
    stop = re.search(r"[.!?…]+[\"'”’)\]]*$", body)
    if stop:
        return f"{body[: stop.start()]} {marks}{body[stop.start() :]}"
    return f"{body} {marks}."


def normalize_space(text: str) -> str:
    return " ".join(text.split())
