"""Plain text -> its own text, line breaks kept, with paragraphs and titles as elements.

unstructured's text partitioner joined a paragraph's lines with spaces, so "Title" on the
line above its paragraph became "Title Paragraph…": quotes read "Title Title …" and a title
glued itself to the first sentence. Here the stored text is the file's own: line ends made
"\\n", trailing spaces cut, runs of blank lines cut to one. A paragraph (a run of non-blank
lines) is an element. Its first line is a Title element of its own when it reads as one
(short, a letter in it, no closing punctuation) and text follows it, in the same paragraph
or the next; a line of `=`, `-`, `~` or `*` under a title only underlines it. A form feed
starts a new page (pages are numbered only in files that have one).
"""

from __future__ import annotations

import re
from typing import Any

from ingest.parsing import ELEMENT_SEPARATOR, Element, ParsedFile

MAX_TITLE_CHARS = 80
MAX_TITLE_WORDS = 12
_UNDERLINE = re.compile(r"[=\-~*]{3,}")
_BLANK_LINES = re.compile(r"\n[ \t\v]*(?:\n[ \t\v]*)+")


def parse_text(text: str, fallback_title: str, metadata: dict[str, Any]) -> ParsedFile:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paged = "\f" in text
    paragraphs: list[tuple[int | None, list[str]]] = []
    for number, page in enumerate(text.split("\f"), start=1):
        for block in _BLANK_LINES.split(page):
            lines = [line.rstrip() for line in block.split("\n")]
            lines = _trim(lines)
            if lines:
                paragraphs.append((number if paged else None, lines))
    return _assemble(paragraphs, fallback_title, metadata)


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def is_title(line: str) -> bool:
    words = line.split()
    return (
        0 < len(line.strip()) <= MAX_TITLE_CHARS
        and len(words) <= MAX_TITLE_WORDS
        and any(c.isalpha() for c in line)
        and line.rstrip()[-1] not in ".,;:!?"
    )


def _assemble(
    paragraphs: list[tuple[int | None, list[str]]], fallback_title: str, metadata: dict[str, Any]
) -> ParsedFile:
    parts: list[str] = []
    elements: list[Element] = []
    position = 0
    section: str | None = None
    first_title: str | None = None

    def add(span_text: str, start: int, kind: str, page: int | None) -> None:
        """An element over `span_text`, which begins at `start` in the text (leading
        indentation left out of the span)."""
        offset = len(span_text) - len(span_text.lstrip())
        elements.append(Element(start + offset, start + len(span_text), kind, page, section))

    for index, (page, lines) in enumerate(paragraphs):
        if parts:
            parts.append(ELEMENT_SEPARATOR)
            position += len(ELEMENT_SEPARATOR)
        block = "\n".join(lines)
        parts.append(block)
        head = lines[0]
        rest_follows = len(lines) > 1 or index + 1 < len(paragraphs)
        body_from = 0
        if rest_follows and is_title(head):
            section = head.strip()
            if first_title is None and not elements:
                first_title = section
            add(head, position, "Title", page)
            body_from = 1
            if len(lines) > 1 and _UNDERLINE.fullmatch(lines[1].strip()):
                body_from = 2
        if body_from < len(lines):
            start = position + sum(len(line) + 1 for line in lines[:body_from])
            add("\n".join(lines[body_from:]), start, "NarrativeText", page)
        position += len(block)
    title = first_title or fallback_title
    return ParsedFile("".join(parts), title, tuple(elements), metadata)
