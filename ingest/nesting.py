"""HTML, Markdown and EPUB nested too deep for unstructured -> their text, read without recursion.

unstructured reads HTML with lxml, whose libxml2 parser stops at 256 levels of nesting (or at
a text node over 10 MB) with an error that lxml recovers from by returning the tree so far:
unstructured then reads what came before the limit and silently loses the rest, and a page
nested 100,000 deep reads as "no text found". Markdown is turned into HTML first (a
blockquote 300 deep is 300 nested elements), and so is an EPUB, by pandoc, which needs
minutes for a chapter nested 100,000 deep (its time grows with the square of the depth).

So every HTML text is checked with the same libxml2 parser before unstructured reads it
(`lxml_limit`), and unstructured's RecursionError is caught. Past a limit:

- HTML: the file is read by `FlatReader`, a stdlib html.parser tokenizer that keeps a list
  of open tags instead of a tree: headings, list items, paragraphs and table rows become
  elements, any depth, in linear time.
- Markdown: blockquote markers are removed from the file's own text (a change of quote
  depth ends a paragraph; fenced code keeps its lines) and the flattened text goes through
  unstructured as usual; what is still too deep (nested lists, raw HTML) is read flat.
- EPUB: each chapter in the spine is checked before pandoc runs; a book with a chapter past
  the limit is read chapter by chapter from the zip, flat.

Each fallback leaves a sentence in the document's metadata under `parse_fallback`.
Deliberately not done: the flat reader does not single out <main> (unstructured reads only
<main> when there is one; the flat reader reads the whole body), reads tables row by row
("cell; cell") without column names, and keeps no quote depth. Files within the limits
parse exactly as before: the checks only decide which reader runs.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

from index.errors import ParseError
from ingest.parsing import decode_text

FALLBACK_KEY = "parse_fallback"  # metadata key -> list of sentences, one per fallback used
LXML_MAX_DEPTH = 256  # libxml2's HTML parser stops here unless told XML_PARSE_HUGE
MARKDOWN_EXTENSIONS = ["tables", "fenced_code"]  # what unstructured's partition_md uses


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


_VOID = _names("area base br col embed hr img input keygen link meta param source track wbr")
_BLOCKS = _names(
    "address article aside blockquote body br caption center dd details dialog dir div dl dt "
    "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend li "
    "main menu nav ol p pre section summary table tbody tfoot thead tr ul"
)
_HIDDEN = _names("del noscript script style title")  # what unstructured leaves out
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_CELLS = ("td", "th")


class FlatReader(HTMLParser):
    """Blocks of text of an HTML document in order, as (kind, text), from a tokenizer.

    No tree is built: a stack of open tag names (with a count per name, so an end tag
    without its start tag is ignored in constant time) says what the text is in. Every
    start or end tag of a block element ends the text gathered so far; the kind of a block
    is that of the tags open around it: CodeSnippet (pre), Title (h1-h6), Table (a row;
    its cells joined by "; "), ListItem (li), else NarrativeText. The text of del, noscript,
    script, style and title is left out, as unstructured leaves it out.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self.deepest = 0
        self._open: list[str] = []
        self._counts: Counter[str] = Counter()
        self._hidden = 0
        self._text: list[str] = []
        self._has_text = False  # whether self._text holds more than white space

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._counts["title"]:  # a title holds only text: a tag inside it ends it
            self.handle_endtag("title")
        if tag in _BLOCKS:
            self._flush()
        elif tag in _CELLS and self._has_text:
            self._text.append("; ")
        if tag in _VOID:
            return
        self._open.append(tag)
        self._counts[tag] += 1
        self._hidden += tag in _HIDDEN
        self.deepest = max(self.deepest, len(self._open))

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self._flush()
        if not self._counts[tag]:
            return  # closes nothing that is open
        while True:  # implied ends: the tags opened inside `tag` and left open end with it
            name = self._open.pop()
            self._counts[name] -= 1
            self._hidden -= name in _HIDDEN
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._text.append(data)
            self._has_text = self._has_text or not data.isspace()

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        text = "".join(self._text)
        self._text.clear()
        self._has_text = False
        counts = self._counts
        if not counts["pre"]:
            text = " ".join(text.split())
        if not text.strip():
            return
        if counts["pre"]:
            kind = "CodeSnippet"
        elif any(counts[h] for h in _HEADINGS):
            kind = "Title"
        elif counts["tr"]:
            kind = "Table"
        elif counts["li"]:
            kind = "ListItem"
        else:
            kind = "NarrativeText"
        self.blocks.append((kind, text))


def lxml_limit(html: str) -> str | None:
    """libxml2's message when its HTML parser stops at a resource limit on `html` (nesting
    past 256 levels, a text node over 10 MB), else None. The parser is configured as
    unstructured's is; past a limit lxml returns the part of the tree read so far."""
    from lxml import etree

    parser = etree.HTMLParser(remove_comments=True, remove_pis=True)
    try:
        try:
            etree.fromstring(html, parser)
        except ValueError:  # a str with an XML encoding declaration: unstructured does this too
            etree.fromstring(html.encode("utf-8"), parser)
    except etree.LxmlError:
        return None  # not a limit: unstructured reads it and answers as before
    for error in parser.error_log:
        if error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT:
            return " ".join(str(error.message).split())
    return None


def flat_elements(html: str) -> tuple[list[Any], int]:
    """unstructured elements read from `html` by FlatReader, and the deepest nesting seen."""
    from unstructured.documents.elements import (
        CodeSnippet,
        ListItem,
        NarrativeText,
        Table,
        Title,
    )

    classes: dict[str, Any] = {
        "CodeSnippet": CodeSnippet,
        "ListItem": ListItem,
        "NarrativeText": NarrativeText,
        "Table": Table,
        "Title": Title,
    }
    reader = FlatReader()
    reader.feed(html)
    reader.close()
    return [classes[kind](text=text) for kind, text in reader.blocks], reader.deepest


def note(metadata: dict[str, Any], sentence: str) -> None:
    metadata.setdefault(FALLBACK_KEY, []).append(sentence)


def partition_html(
    html: str, metadata: dict[str, Any], what: str = "the HTML", **options: Any
) -> list[Any]:
    """unstructured's partition_html(text=html, **options), or FlatReader's elements when
    libxml2 would stop at a limit or unstructured recurses too deep."""
    reason = lxml_limit(html)
    if reason is None:
        from unstructured.partition.html import partition_html as unstructured_partition

        try:
            return list(unstructured_partition(text=html, **options))
        except RecursionError:
            reason = "unstructured ran out of Python recursion depth"
    elements, deepest = flat_elements(html)
    note(
        metadata,
        f"{what} is past what unstructured can read ({reason}; it is nested up to {deepest:,} "
        "elements deep); its text was read by a flat reader: headings, list items, paragraphs "
        "and table rows kept, the whole body read",
    )
    return elements


_QUOTES = re.compile(r"(?:[ ]{0,3}>[ ]?)+")  # blockquote markers, as Python-Markdown reads them
_QUOTE = re.compile(r"[ ]{0,3}>[ ]?")
_FENCE = re.compile(r"[ ]{0,3}(`{3,}|~{3,})")


def flatten_blockquotes(text: str) -> tuple[str, int]:
    """`text` with the blockquote markers at the start of its lines removed, and the deepest
    quote. A line whose quote depth differs from the line before starts a new paragraph;
    inside a fenced code block only the markers of the quote around the fence are removed,
    so code lines that begin with ">" keep it."""
    lines: list[str] = []
    deepest = previous = 0
    fence: tuple[str, int] | None = None  # (the fence's marker, its quote depth)
    for line in text.split("\n"):
        if fence is None:
            markers = _QUOTES.match(line)
            cut = markers.end() if markers else 0
            depth = line.count(">", 0, cut)
        else:
            cut = depth = 0
            while depth < fence[1] and (marker := _QUOTE.match(line, cut)):
                cut, depth = marker.end(), depth + 1
        rest = line[cut:]
        opening = _FENCE.match(rest)
        if fence is None:
            if depth != previous and lines and lines[-1].strip() and rest.strip():
                lines.append("")
            if opening:
                fence = (opening.group(1), depth)
        elif (  # a closing fence: the opening one's character, as long or longer, alone
            opening and opening.group(1).startswith(fence[0]) and not rest[opening.end() :].strip()
        ):
            fence = None
        lines.append(rest)
        deepest, previous = max(deepest, depth), depth
    return "\n".join(lines), deepest


def markdown_html(text: str) -> str:
    import markdown

    html: str = markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS)
    return html


def partition_markdown(text: str, metadata: dict[str, Any]) -> list[Any]:
    """What unstructured's partition_md does (Markdown -> HTML -> partition_html), with the
    blockquotes flattened when the HTML is too deep for libxml2."""
    from unstructured.file_utils.model import FileType

    flat, deepest = flatten_blockquotes(text)
    # Quotes this deep never fit libxml2's levels, and Python-Markdown takes minutes over
    # them (it re-reads a quote's text once per level): flattened without a first try.
    html = markdown_html(text) if deepest < LXML_MAX_DEPTH else None
    if html is None or (deepest and lxml_limit(html) is not None):
        flat_html = markdown_html(flat)
        if html is None or lxml_limit(flat_html) is None:  # the quotes were too deep
            note(
                metadata,
                f"blockquotes nested {deepest:,} deep are more than unstructured can read: "
                "their markers were removed and their text read as plain paragraphs",
            )
            html = flat_html
    return partition_html(
        html,
        metadata,
        what="the Markdown's HTML",
        metadata_file_type=FileType.MD,
        detection_origin="md",
        languages=["eng"],
    )


def partition_epub(path: Path, metadata: dict[str, Any]) -> list[Any]:
    """What unstructured's partition_epub does (pandoc -> HTML -> partition_html), unless a
    chapter is past libxml2's limits: then the book is read chapter by chapter, flat."""
    from unstructured.file_utils.model import FileType

    chapters = epub_chapters(path)
    for name, chapter in chapters:
        reason = lxml_limit(chapter)
        if reason is None:
            continue
        elements: list[Any] = []
        deepest = 0
        for _, html in chapters:
            more, depth = flat_elements(html)
            elements += more
            deepest = max(deepest, depth)
        note(
            metadata,
            f"chapter {name} is past what pandoc and unstructured can read ({reason}; the "
            f"book is nested up to {deepest:,} elements deep); the book's chapters were read "
            "in spine order by a flat reader: headings, list items, paragraphs and table rows "
            "kept",
        )
        return elements
    from unstructured.file_utils.file_conversion import convert_file_to_html_text_using_pandoc

    html = convert_file_to_html_text_using_pandoc(source_format="epub", filename=str(path))
    return partition_html(
        html,
        metadata,
        what="the EPUB's HTML",
        metadata_filename=str(path),
        metadata_file_type=FileType.EPUB,
        detection_origin="epub",
    )


_CONTAINER = "META-INF/container.xml"
_CHAPTER_TYPES = ("application/xhtml+xml", "text/html")


def epub_chapters(path: Path) -> list[tuple[str, str]]:
    """(name, text) of each (X)HTML document in the book's spine, in reading order; empty
    when the book is not laid out as the EPUB standard says (pandoc then judges it)."""
    try:
        with zipfile.ZipFile(path) as book:
            container = ElementTree.fromstring(book.read(_CONTAINER))
            rootfile = container.find(".//{*}rootfile")
            package_path = rootfile.get("full-path") if rootfile is not None else None
            if not package_path:
                return []
            package = ElementTree.fromstring(book.read(package_path))
            base = posixpath.dirname(package_path)
            manifest = {
                item.get("id"): (item.get("href") or "", item.get("media-type"))
                for item in package.iterfind("{*}manifest/{*}item")
            }
            chapters: list[tuple[str, str]] = []
            for itemref in package.iterfind("{*}spine/{*}itemref"):
                href, media_type = manifest.get(itemref.get("idref"), ("", None))
                if href and media_type in _CHAPTER_TYPES:
                    name = posixpath.normpath(posixpath.join(base, unquote(href)))
                    chapters.append((name, decode_text(book.read(name))[0]))
            return chapters
    except (KeyError, OSError, zipfile.BadZipFile, ElementTree.ParseError, ValueError, ParseError):
        return []
