"""HTML, Markdown and EPUB nested past what unstructured reads keep all their text, and say so.

libxml2 (under lxml, under unstructured) stops at 256 levels and returns the tree so far:
before ingest.nesting these files lost everything past the limit, or all their text.
"""

from __future__ import annotations

import inspect
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import KnowledgeBase, SentenceTransformerEmbedder, Store
from ingest import Ingestor
from ingest.nesting import FALLBACK_KEY, FlatReader, flatten_blockquotes
from ingest.parsing import ParsedFile, parse_file


def parse(path: Path, file_type: str) -> ParsedFile:
    """parse_file, with the contract every result keeps: spans slice the stored text, in order."""
    parsed = parse_file(str(path), file_type)
    spans = [(e.start, e.end) for e in parsed.elements]
    assert spans == sorted(spans)
    for element in parsed.elements:
        quoted = parsed.text[element.start : element.end]
        assert quoted and quoted == quoted.strip()
    return parsed


def nested_html(depth: int, said_at: set[int]) -> str:
    """`depth` nested divs, a sentence inside the levels in `said_at`, one at the bottom and
    one after the whole nest."""
    opening = "".join(
        f"<div>Level {level} speaks. " if level in said_at else "<div>" for level in range(depth)
    )
    return (
        f"<html><body>{opening}The bottom speaks.{'</div>' * depth}"
        "<p>After the nest.</p></body></html>"
    )


def make_epub(path: Path, chapters: list[str]) -> Path:
    """A minimal EPUB 3: mimetype, container, package, one XHTML file per chapter body."""
    items = "".join(
        f'<item id="c{i}" href="text/c{i}.xhtml" media-type="application/xhtml+xml"/>'
        for i in range(len(chapters))
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        book.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
            'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            '<dc:identifier id="id">deep</dc:identifier><dc:title>Deep</dc:title>'
            f"<dc:language>en</dc:language></metadata><manifest>{items}</manifest>"
            f"<spine>{spine}</spine></package>",
        )
        for i, body in enumerate(chapters):
            book.writestr(
                f"OEBPS/text/c{i}.xhtml",
                '<?xml version="1.0" encoding="utf-8"?>'
                '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Chapter</title></head>'
                f"<body>{body}</body></html>",
            )
    return path


def test_a_page_nested_100000_deep_keeps_its_text(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<div>" * 100_000 + "text" + "</div>" * 100_000)
    parsed = parse(path, "html")
    assert parsed.text == "text"
    (note,) = parsed.metadata[FALLBACK_KEY]
    assert "Excessive depth in document: 256" in note and "100,000 elements deep" in note
    assert parsed.seconds < 30  # the parse deadline is 120 s; here it takes about half a second


@pytest.mark.parametrize("depth", [300, 5000, 100_000])
def test_text_at_every_depth_and_after_the_nest_is_kept_in_order(
    tmp_path: Path, depth: int
) -> None:
    said_at = {0, 100, 254, 255, 256, 257, depth // 2, depth - 1}
    path = tmp_path / "deep.html"
    path.write_text(nested_html(depth, said_at))
    parsed = parse(path, "html")
    expected = [f"Level {level} speaks." for level in sorted(said_at)]
    expected[-1] += " The bottom speaks."  # the same div: one paragraph
    assert parsed.text == "\n\n".join([*expected, "After the nest."])
    assert FALLBACK_KEY in parsed.metadata


def test_a_page_within_the_limit_is_read_by_unstructured_as_before(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text(nested_html(250, {0, 100, 249}))
    parsed = parse(path, "html")
    assert parsed.text == (
        "Level 0 speaks.\n\nLevel 100 speaks.\n\nLevel 249 speaks. The bottom speaks.\n\n"
        "After the nest."
    )
    assert FALLBACK_KEY not in parsed.metadata


def test_the_flat_reader_keeps_headings_lists_rows_and_code(tmp_path: Path) -> None:
    body = (
        "<header>Site name</header><h1>Harbour &amp; pier</h1><p>The pier is <b>old</b>.</p>"
        "<ul><li>First item<li>Second item</ul><table><tr><th>city</th><th>people</th></tr>"
        "<tr><td>Alta</td><td>21000</td></tr></table><pre>line one\n  line two</pre>"
        "<script>var hidden = 1;</script><style>p {}</style><del>struck out</del>"
        "</span></em><p>Stray end tags close nothing.</p><footer>Page foot</footer>"
    )
    path = tmp_path / "deep.html"
    path.write_text(f"<html><head><title>Tab title</title></head><body>{body}" + "<div>" * 300)
    parsed = parse(path, "html")
    blocks = [(e.kind, parsed.text[e.start : e.end]) for e in parsed.elements]
    assert blocks == [
        ("NarrativeText", "Site name"),
        ("Title", "Harbour & pier"),
        ("NarrativeText", "The pier is old."),
        ("ListItem", "First item"),
        ("ListItem", "Second item"),
        ("Table", "city; people"),
        ("Table", "Alta; 21000"),
        ("CodeSnippet", "line one\n  line two"),
        ("NarrativeText", "Stray end tags close nothing."),
        ("NarrativeText", "Page foot"),
    ]
    assert parsed.elements[2].section == "Harbour & pier"


WORDS = st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True)
TAGS = st.sampled_from(["div", "p", "span", "b", "li", "section", "blockquote", "td", "h2"])


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["open", "close", "say"]), TAGS, WORDS)))
def test_the_flat_reader_keeps_every_word_in_order(steps: list[tuple[str, str, str]]) -> None:
    html, said = "", list[str]()
    for step, tag, word in steps:
        if step == "open":
            html += f"<{tag}>"
        elif step == "close":
            html += f"</{tag}>"
        else:
            html, said = html + f" {word} ", [*said, word]
    reader = FlatReader()
    reader.feed(html)
    reader.close()
    assert re.findall(r"[A-Za-z]+", " ".join(text for _, text in reader.blocks)) == said


def quotes(depth: int, said_at: set[int]) -> str:
    lines = [">" * level + f" Quote {level} speaks." for level in sorted(said_at)]
    return "# Quotes\n\nBefore the quotes.\n\n" + "\n".join(lines) + "\n\nAfter the quotes.\n"


@pytest.mark.parametrize("depth", [300, 3000])
def test_markdown_quotes_nested_past_the_limit_keep_their_text(tmp_path: Path, depth: int) -> None:
    said_at = {1, 2, 200, 299, depth}
    path = tmp_path / "quotes.md"
    path.write_text(quotes(depth, said_at))
    parsed = parse(path, "markdown")
    assert parsed.text == "\n\n".join(
        ["Quotes", "Before the quotes."]
        + [f"Quote {level} speaks." for level in sorted(said_at)]
        + ["After the quotes."]
    )
    assert parsed.title == "Quotes"
    (note,) = parsed.metadata[FALLBACK_KEY]
    assert f"nested {depth:,} deep" in note


def test_markdown_quotes_within_the_limit_stay_quotes(tmp_path: Path) -> None:
    path = tmp_path / "quotes.md"
    path.write_text(quotes(100, {1, 50, 100}))
    parsed = parse(path, "markdown")
    assert "Quote 100 speaks." in parsed.text and FALLBACK_KEY not in parsed.metadata


def test_flattening_keeps_code_lines_and_ends_paragraphs_where_depth_changes() -> None:
    text = "> a\n>> b\n> c\n\n```\n> prompt\n```\n> ```\n> > inner\n> ```\nplain"
    flat, deepest = flatten_blockquotes(text)
    assert deepest == 2
    assert flat == "a\n\nb\n\nc\n\n```\n> prompt\n```\n\n```\n> inner\n```\n\nplain"


def test_markdown_with_raw_html_nested_past_the_limit_keeps_its_text(tmp_path: Path) -> None:
    path = tmp_path / "raw.md"
    raw = "<div>" * 5000 + "Deep raw." + "</div>" * 5000
    path.write_text(f"# Raw\n\n> A shallow quote.\n\n{raw}")
    parsed = parse(path, "markdown")
    assert parsed.text == "Raw\n\nA shallow quote.\n\nDeep raw."
    (note,) = parsed.metadata[FALLBACK_KEY]  # read flat; the quote was not what was too deep
    assert "5,000 elements deep" in note


@pytest.mark.parametrize("depth", [300, 100_000])
def test_an_epub_with_a_chapter_nested_past_the_limit_keeps_every_chapter(
    tmp_path: Path, depth: int
) -> None:
    deep = "<div>" * depth + "Deep chapter text." + "</div>" * depth + "<p>Chapter end.</p>"
    path = make_epub(
        tmp_path / "deep.epub",
        ["<h1>One</h1><p>Shallow text.</p>", deep, "<h1>Three</h1><p>Last text.</p>"],
    )
    parsed = parse(path, "epub")
    assert parsed.text == "\n\n".join(
        ["One", "Shallow text.", "Deep chapter text.", "Chapter end.", "Three", "Last text."]
    )
    (note,) = parsed.metadata[FALLBACK_KEY]
    assert "OEBPS/text/c1.xhtml" in note
    assert parsed.seconds < 30  # pandoc alone would take minutes at 100,000 levels


def test_an_ordinary_epub_is_read_by_pandoc_and_unstructured_as_before(tmp_path: Path) -> None:
    path = make_epub(
        tmp_path / "book.epub",
        ["<h1>One</h1><p>Shallow text.</p><ul><li>An item</li></ul>", "<p>Second chapter.</p>"],
    )
    parsed = parse(path, "epub")
    assert parsed.text == "One\n\nShallow text.\n\nAn item\n\nSecond chapter."
    assert [e.kind for e in parsed.elements] == ["Title", "Text", "ListItem", "Text"]
    assert FALLBACK_KEY not in parsed.metadata


def test_unstructured_running_out_of_recursion_falls_back_to_the_flat_reader(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep.html"
    path.write_text(nested_html(250, {0, 249}))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 120)  # what a deep caller would leave it
    try:
        parsed = parse_file(str(path), "html")
    finally:
        sys.setrecursionlimit(limit)
    assert (
        parsed.text == "Level 0 speaks.\n\nLevel 249 speaks. The bottom speaks.\n\nAfter the nest."
    )
    (note,) = parsed.metadata[FALLBACK_KEY]
    assert "recursion" in note


@pytest.fixture
def kb(
    database_url: str, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[KnowledgeBase]:
    store = Store(database_url)
    yield KnowledgeBase(store, tmp_path / "data" / "vectors.faiss", embedder.model_name)
    store.close()


@pytest.mark.slow
def test_deep_files_are_ingested_by_the_workers_within_the_default_deadline(
    kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "deep.html").write_text(
        "<div>" * 100_000 + "The lantern room holds four lamps." + "</div>" * 100_000
    )
    (folder / "quotes.md").write_text(quotes(3000, {1, 3000}))
    make_epub(
        folder / "deep.epub",
        ["<div>" * 100_000 + "The keeper rows out at dawn." + "</div>" * 100_000],
    )
    report = Ingestor(kb, embedder, parse_workers=1).run([folder], "default")
    assert {Path(o.source).name: o.status for o in report.outcomes} == {
        "deep.html": "added",
        "quotes.md": "added",
        "deep.epub": "added",
    }
    for document in kb.store.list_documents():
        assert document.metadata[FALLBACK_KEY]
        text = kb.store.document_text(document.id)
        assert any(
            fact in text
            for fact in ("four lamps", "Quote 3000 speaks.", "The keeper rows out at dawn.")
        )
