"""Tables as text a reader can quote: one line per row, each cell named by its column.

unstructured gives a table's text as every cell joined by spaces ("variable default meaning
CITED_PORT 8000 Where cited serve listens."), which neither a reader nor the answer model
can take apart: which number is whose default? From the table's HTML (text_as_html, which
unstructured keeps for Markdown, HTML, CSV, Word and PowerPoint tables) each body row
becomes one sentence of "header: value" pairs:

    variable: CITED_PORT; default: 8000; meaning: Where cited serve listens.

A table without a header row keeps its cells in order, joined by "; ", unless its first row
is known to be the header (a CSV file's, by convention: `first_row_header`). Each row ends with a
full stop unless its last cell already ends a sentence, so the sentence splitter quotes one
row at a time. Deliberately not done: merged cells (colspan/rowspan) are read as single
cells; nested tables are flattened.
"""

from __future__ import annotations

from html.parser import HTMLParser

_ENDS = (".", "!", "?", "…")


class _Rows(HTMLParser):
    """Rows of cells, and whether each row was a header row (th cells or thead)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[list[str], bool]] = []
        self._cells: list[str] | None = None
        self._cell: list[str] | None = None
        self._header = False
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._cells, self._header = [], self._in_head
        elif tag in ("td", "th") and self._cells is not None:
            self._cell = []
            self._header = self._header or tag == "th"

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cells is not None and self._cell is not None:
            self._cells.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._cells is not None:
            if any(self._cells):
                self.rows.append((self._cells, self._header))
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_text(html: str, first_row_header: bool = False) -> str | None:
    """One line per body row ("header: value; ..."), or None when `html` holds no rows.
    `first_row_header`: the first row names the columns even without th cells."""
    parser = _Rows()
    parser.feed(html)
    parser.close()
    headers: list[str] = []
    lines: list[str] = []
    for index, (cells, is_header) in enumerate(parser.rows):
        if (is_header or (first_row_header and index == 0)) and not lines:
            headers = cells
            continue
        if headers and len(headers) == len(cells):
            parts = [f"{h}: {c}" if h else c for h, c in zip(headers, cells, strict=True) if c]
        else:
            parts = [c for c in cells if c]
        line = "; ".join(parts)
        lines.append(line if line.endswith(_ENDS) else line + ".")
    return "\n".join(lines) or None
