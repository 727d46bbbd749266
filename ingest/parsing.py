"""File -> extracted text with element spans (page, section), using unstructured, offline.

The extracted text is the elements' texts joined by blank lines; every element keeps its
character span in it, so chunk offsets computed later refer to exactly the text that is
stored and served. Runs in worker processes (see ingest.pipeline): `parse_file` takes and
returns plain picklable data.

Failures are ParseError with a reason a person can act on; "no elements from a non-empty
file" is always a failure, never an empty document (unstructured fails silently on broken
PDFs). HTML, Markdown and EPUB nested deeper than unstructured can read are read by
ingest.nesting instead, which says so in the metadata. Not done: OCR (scanned PDFs are
reported as having no extractable text), legacy binary formats (.doc, .ppt), archives.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import ParseError
from ingest import offline
from ingest.tables import table_text

log = logging.getLogger(__name__)

# extension -> file type
FILE_TYPES = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".csv": "csv",
    ".eml": "email",
    ".epub": "epub",
}
TEXT_TYPES = {"markdown", "html", "csv"}  # plain text: ingest.plaintext
ELEMENT_SEPARATOR = "\n\n"
MAX_TITLE_CHARS = 150


@dataclass(frozen=True)
class Element:
    start: int
    end: int
    kind: str  # unstructured category: Title, NarrativeText, ListItem, Table, ...
    page: int | None
    section: str | None


@dataclass(frozen=True)
class ParsedFile:
    text: str
    title: str
    elements: tuple[Element, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def printable(name: str) -> str:
    """A file name or path as text that can be stored and printed: bytes that are not valid
    UTF-8 (kept by Python as surrogate escapes) written as `\\xNN`."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def file_type_of(path: Path) -> str | None:
    return FILE_TYPES.get(path.suffix.lower())


# Byte order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one).
BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """(encoding, length of the mark) when `data` starts with a byte order mark."""
    for mark, encoding in BOMS:
        if data.startswith(mark):
            return encoding, len(mark)
    return None


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a text file: the encoding its byte order mark names, else UTF-8
    when valid, else the detected encoding. NUL characters are removed (they carry no text
    and PostgreSQL cannot store them); NULs in the first 8 KB of a file without a byte order
    mark mean it is not text at all."""
    text, encoding = _decode(data)
    return text.replace("\x00", ""), encoding


def _decode(data: bytes) -> tuple[str, str]:
    marked = bom_encoding(data)
    if marked is not None:
        encoding, skip = marked
        try:
            return data[skip:].decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"the file starts with a {encoding.upper()} byte order mark but is not valid "
                f"{encoding.upper()} at byte {exc.start + skip}; re-save it as UTF-8"
            ) from None
    if b"\x00" in data[:8192]:
        raise ParseError("binary data in a text file (NUL bytes); is the file extension right?")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise ParseError("not text: its character encoding could not be detected (binary file?)")
    # Short Western texts fit several single-byte code pages equally well; among those tied
    # with the best, Windows-1252 (a superset of Latin-1) is by far the likeliest.
    for match in matches:
        if match.encoding == "cp1252" and (match.chaos, match.coherence) == (
            best.chaos,
            best.coherence,
        ):
            best = match
            break
    return str(best), best.encoding


def _check_pdf(path: Path) -> dict[str, Any]:
    """Diagnose PDFs that unstructured would silently turn into nothing."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    if b"%PDF-" not in head:
        raise ParseError("not a PDF file (no %PDF header); is the file extension right?")
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileNotDecryptedError("password required")
        n_pages = len(reader.pages)
        info = reader.metadata
        title = (
            str(info.title).replace("\x00", "").strip() if info is not None and info.title else ""
        )
    except FileNotDecryptedError:
        raise ParseError(
            "encrypted PDF that needs a password; decrypt it (e.g. `qpdf --decrypt --password=... "
            "in.pdf out.pdf`) and ingest the decrypted copy"
        ) from None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(f"damaged or truncated PDF ({exc}); re-export or repair it") from None
    if n_pages == 0:
        raise ParseError("the PDF has no pages")
    return {"pages": n_pages, **({"pdf_title": title} if title else {})}


def _partition(path: Path, file_type: str, metadata: dict[str, Any]) -> list[Any]:
    offline.prepare()
    if file_type in TEXT_TYPES:
        text, encoding = decode_text(path.read_bytes())
        metadata["encoding"] = encoding
        if file_type == "markdown":
            from ingest.nesting import partition_markdown

            return partition_markdown(text, metadata)
        if file_type == "html":
            from ingest.nesting import partition_html

            return partition_html(text, metadata, languages=["eng"])
        from unstructured.partition.csv import partition_csv

        return list(partition_csv(file=io.BytesIO(text.encode()), languages=["eng"]))
    if file_type == "pdf":
        metadata.update(_check_pdf(path))
        from unstructured.partition.pdf import partition_pdf

        return list(
            partition_pdf(
                filename=str(path), strategy="fast", infer_table_structure=False, languages=["eng"]
            )
        )
    if file_type == "docx":
        from unstructured.partition.docx import partition_docx

        return list(partition_docx(filename=str(path)))
    if file_type == "pptx":
        from unstructured.partition.pptx import partition_pptx

        return list(partition_pptx(filename=str(path)))
    if file_type == "email":
        from unstructured.partition.email import partition_email

        return _email_header(path, metadata) + list(partition_email(filename=str(path)))
    if file_type == "epub":
        from ingest.nesting import partition_epub

        return partition_epub(path, metadata)
    raise ParseError(f"no parser for file type {file_type!r}")


EMAIL_FIELDS = (("From", "from"), ("To", "to"), ("Cc", "cc"), ("Date", "date"))


def _email_header(path: Path, metadata: dict[str, Any]) -> list[Any]:
    """An e-mail's Subject as its title element and its From, To, Cc and Date as a
    paragraph (unstructured keeps the body alone, so a message was titled by its file name
    and "who sent it, when" could not be answered); the same fields go into the metadata."""
    import email
    import email.policy

    from unstructured.documents.elements import NarrativeText, Title

    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    elements: list[Any] = []
    subject = " ".join(str(message.get("Subject") or "").split())
    if subject:
        metadata["subject"] = subject
        elements.append(Title(text=subject))
    lines = []
    for header, key in EMAIL_FIELDS:
        value = " ".join(str(message.get(header) or "").split())
        if value:
            metadata[key] = value
            lines.append(f"{header}: {value}")
    if lines:
        elements.append(NarrativeText(text="\n".join(lines)))
    return elements


def parse_file(path_str: str, file_type: str) -> ParsedFile:
    """Parse one file. Raises ParseError with a reason; nothing else is expected to escape
    except bugs, which the caller reports per file as well."""
    started = time.perf_counter()
    path = Path(path_str)
    metadata: dict[str, Any] = {}
    try:
        if file_type == "text":
            from ingest.plaintext import parse_text

            text, metadata["encoding"] = decode_text(path.read_bytes())
            parsed = parse_text(text, fallback_title=printable(path.stem), metadata=metadata)
        else:
            raw_elements = _partition(path, file_type, metadata)
            parsed = assemble(
                raw_elements,
                fallback_title=printable(path.stem),
                metadata=metadata,
                first_row_header=file_type == "csv",  # a CSV's first row names its columns
            )
    except (ParseError, MemoryError):
        raise  # a memory error is the worker's to report (ingest.workers): its limit, its setting
    except ImportError as exc:
        raise ParseError(
            f"parsing {file_type} files needs a package that is not installed ({exc}); "
            "run `make install`"
        ) from None
    except Exception as exc:  # noqa: BLE001 - parsers raise assorted types (BadZipFile, lxml, ...);
        # each becomes this file's reason, and the batch goes on.
        raise ParseError(
            f"could not parse this {file_type} file: {type(exc).__name__}: {exc}"
        ) from None
    if not parsed.text.strip():
        if file_type == "pdf":
            raise ParseError(
                "the PDF has no extractable text (a scanned or image-only PDF?); OCR is not enabled"
            )
        raise ParseError("no text found in the file")
    return ParsedFile(
        parsed.text, parsed.title, parsed.elements, parsed.metadata, time.perf_counter() - started
    )


def assemble(
    raw_elements: list[Any],
    fallback_title: str,
    metadata: dict[str, Any],
    first_row_header: bool = False,
) -> ParsedFile:
    """Join unstructured elements into one text, keeping each element's span, page, section.
    NUL characters are dropped: they carry no text and PostgreSQL cannot store them."""
    parts: list[str] = []
    elements: list[Element] = []
    position = 0
    section: str | None = None
    first_title: str | None = None
    for raw in raw_elements:
        text = (getattr(raw, "text", "") or "").replace("\x00", "").strip()
        if not text:
            continue
        kind = type(raw).__name__
        html = getattr(getattr(raw, "metadata", None), "text_as_html", None)
        if kind == "Table" and html:
            text = (table_text(html, first_row_header) or text).replace("\x00", "")
        page = getattr(getattr(raw, "metadata", None), "page_number", None)
        if kind == "Title" and len(text) <= MAX_TITLE_CHARS:
            section = text
            if first_title is None and not elements:
                first_title = text
        if parts:
            parts.append(ELEMENT_SEPARATOR)
            position += len(ELEMENT_SEPARATOR)
        parts.append(text)
        elements.append(Element(position, position + len(text), kind, page, section))
        position += len(text)
    title = str(metadata.get("pdf_title") or first_title or fallback_title).replace("\x00", "")
    return ParsedFile("".join(parts), title, tuple(elements), metadata)
