"""Builders for real test documents (PDF, DOCX, PPTX) and a folder of bad input."""

from __future__ import annotations

import os
from pathlib import Path


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A valid PDF with one Helvetica text line per string, one list of lines per page."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    pages_id = add(b"")  # filled in below
    kids = []
    for lines in pages:
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (pages_id, font, content)
            )
        )
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    info = add(b"<< /Title (%s) >>" % title.encode("latin-1")) if title else None
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def make_encrypted_pdf(path: Path, lines: list[str]) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = path.with_suffix(".plain")
    plain.write_bytes(make_pdf([lines]))
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt("s3cret", algorithm="RC4-128")
    with path.open("wb") as handle:
        writer.write(handle)
    plain.unlink()


def make_docx(path: Path, heading: str, paragraphs: list[str]) -> None:
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))


def make_pptx(path: Path, title: str, body: str) -> None:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = title
    slide.placeholders[1].text = body
    deck.save(str(path))


GOOD_FACTS = {
    "notes.txt": "The lighthouse keeper on Varn Island logs the tide every 40 minutes.",
    "guide.md": "The orchard robot prunes apple trees only during the waning moon.",
    "page.html": "The glassblowers of Murano cool their vases in volcanic sand.",
    "report.pdf": "The Zephyr turbine produced 812 kilowatts during the March storm.",
    "memo.docx": "The archive basement floods whenever the Orne river rises above four metres.",
}


def write_good_corpus(folder: Path) -> dict[str, str]:
    """One file per supported main format, each with a unique fact; returns name -> fact."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text(f"Island notes\n\n{GOOD_FACTS['notes.txt']}\n")
    (folder / "guide.md").write_text(
        f"# Orchard guide\n\n{GOOD_FACTS['guide.md']}\n\n## Tools\n\nShears and ladders.\n"
    )
    (folder / "page.html").write_text(
        f"<html><head><title>Glass</title></head><body><h1>Glass</h1><p>{GOOD_FACTS['page.html']}</p></body></html>"
    )
    (folder / "report.pdf").write_bytes(
        make_pdf([["Turbine report"], [GOOD_FACTS["report.pdf"]]], title="Turbine report")
    )
    make_docx(folder / "memo.docx", "Archive memo", [GOOD_FACTS["memo.docx"]])
    return dict(GOOD_FACTS)


def write_bad_corpus(folder: Path) -> dict[str, str]:
    """The bad inputs of the ingestion issue; returns file name -> a word its reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "junk.pdf").write_bytes(os.urandom(4096))
    (folder / "truncated.pdf").write_bytes(
        make_pdf([["This document was cut short in transit."]])[:300]
    )
    make_encrypted_pdf(folder / "locked.pdf", ["Secret plans for the harbour."])
    (folder / "blank.pdf").write_bytes(make_pdf([[]]))
    (folder / "huge.txt").write_bytes(b"big file line\n" * (200 * 1024))  # 2.8 MB
    (folder / "latin1.txt").write_bytes(
        "Le caf\u00e9 de la gare sert une cr\u00e8me br\u00fbl\u00e9e chaque jeudi \u00e0 midi.".encode(
            "cp1252"
        )
    )
    os.symlink("loop_b.txt", folder / "loop_a.txt")
    os.symlink("loop_a.txt", folder / "loop_b.txt")
    return {
        "empty.txt": "empty",
        "junk.pdf": "not a PDF",
        "truncated.pdf": "truncated",
        "locked.pdf": "encrypted",
        "blank.pdf": "no extractable text",
        "huge.txt": "CITED_MAX_FILE_MB",
        "loop_a.txt": "symbolic link loop",
        "loop_b.txt": "symbolic link loop",
    }


def make_docx_bomb(path: Path, paragraphs: int) -> Path:
    """A tiny .docx whose document.xml inflates to ~35 bytes a paragraph of one-letter
    paragraphs (3,000,000 paragraphs: 300 KB on disk, 105 MB of XML)."""
    import zipfile

    ns = "http://schemas.openxmlformats.org/"
    types = (
        f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}package/2006/'
        'relationships"><Relationship Id="rId1" Type="'
        f'{ns}officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
        "</Relationships>"
    )
    block = b"<w:p><w:r><w:t>x</w:t></w:r></w:p>" * 10_000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", rels)
        with archive.open("word/document.xml", "w", force_zip64=True) as xml:
            xml.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document '
                b'xmlns:w="' + ns.encode() + b'wordprocessingml/2006/main"><w:body>'
            )
            for _ in range(paragraphs // 10_000):
                xml.write(block)
            xml.write(b"</w:body></w:document>")
    return path


def write_stalling_files(folder: Path) -> dict[str, Path]:
    """Files an outside campaign found to keep a parser busy for minutes (by name)."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "brackets.md": "[" * 100_000,
        "nested.md": "".join("  " * depth + "- item\n" for depth in range(2_000)),
    }
    paths = {}
    for name, text in contents.items():
        paths[name] = folder / name
        paths[name].write_text(text)
    return paths


def write_huge_text_files(
    folder: Path,
    elements: int = 5_000,
    line_bytes: int = 300_000,
    cell_bytes: int = 200_000,
    columns: int = 10_000,
) -> dict[str, Path]:
    """Files an outside campaign found to parse quickly into texts of millions of tokens
    (by name): an HTML page of `elements` paragraphs, a text on one line, a CSV with one
    huge cell, a CSV with `columns` columns. The defaults make them small (a few hundred
    chunks each); the campaign's were 200,000 elements, 10 MB, 5 MB and 100,000 columns."""
    folder.mkdir(parents=True, exist_ok=True)
    words = "the policy says leave requests need two weeks of notice and a manager's approval"
    sentence = " ".join(words.split())
    line = (sentence + " ") * (line_bytes // (len(sentence) + 1) + 1)
    cell = (sentence + " ") * (cell_bytes // (len(sentence) + 1) + 1)
    paragraphs = "".join(f"<p>Paragraph {i} says a few words.</p>\n" for i in range(elements))
    contents = {
        "many_elements.html": f"<html><body>\n{paragraphs}</body></html>\n",
        "one_line.txt": line[:line_bytes],
        "huge_cell.csv": "name,notes\nleave," + cell[:cell_bytes] + "\n",
        "wide.csv": ",".join(f"c{i}" for i in range(columns))
        + "\n"
        + ",".join(str(i) for i in range(columns))
        + "\n",
    }
    paths = {}
    for name, text in contents.items():
        paths[name] = folder / name
        paths[name].write_text(text)
    return paths
