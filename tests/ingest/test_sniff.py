"""A file's first bytes against its extension (ingest/sniff.py), used by uploads and
`cited ingest` alike."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingest.sniff import content_problem
from tests.files import make_docx, make_pdf


def test_content_must_match_the_extension(tmp_path: Path) -> None:
    pdf = make_pdf([["A page of text."]])
    (tmp_path / "real.pdf").write_bytes(pdf)
    assert content_problem(tmp_path / "real.pdf", "real.pdf") is None

    (tmp_path / "fake.pdf").write_bytes(b"MZ\x90\x00 this is a program")
    assert content_problem(tmp_path / "fake.pdf", "fake.pdf") == (
        "the content is a Windows executable, not a PDF as its .pdf extension says"
    )
    (tmp_path / "pdf.txt").write_bytes(pdf)
    problem = content_problem(tmp_path / "pdf.txt", "pdf.txt")
    assert problem is not None and "rename it to .pdf" in problem

    make_docx(tmp_path / "real.docx", "Heading", ["A paragraph."])
    assert content_problem(tmp_path / "real.docx", "real.docx") is None
    with zipfile.ZipFile(tmp_path / "plain.docx", "w") as archive:
        archive.writestr("hello.txt", "not a word file")
    problem = content_problem(tmp_path / "plain.docx", "plain.docx")
    assert problem is not None and "word/document.xml" in problem
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04garbage")
    problem = content_problem(tmp_path / "broken.docx", "broken.docx")
    assert problem is not None and "damaged ZIP" in problem

    (tmp_path / "binary.md").write_bytes(b"# title\n\x00\x01\x02")
    assert "NUL bytes" in (content_problem(tmp_path / "binary.md", "binary.md") or "")
    (tmp_path / "ok.md").write_text("# Title\n\nSome text.\n")
    assert content_problem(tmp_path / "ok.md", "ok.md") is None
    (tmp_path / "tool.exe").write_bytes(b"MZ")
    assert "unsupported file type '.exe'" in (
        content_problem(tmp_path / "tool.exe", "tool.exe") or ""
    )
    (tmp_path / "empty.txt").write_bytes(b"")
    assert content_problem(tmp_path / "empty.txt", "empty.txt") == "empty file (0 bytes)"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_text_with_a_byte_order_mark_is_text(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "notes.txt").write_bytes("The tide turns at 06:12.\n".encode(encoding))
    assert content_problem(tmp_path / "notes.txt", "notes.txt") is None


def test_an_email_starts_with_its_headers(tmp_path: Path) -> None:
    (tmp_path / "real.eml").write_text(
        "Received: from mx\nFrom: a@example.org\nSubject: Hi\n\nBody\n"
    )
    assert content_problem(tmp_path / "real.eml", "real.eml") is None
    (tmp_path / "mbox.eml").write_text(
        "From a@example.org Mon Jan 1 00:00:00 2024\nSubject: Hi\n\nB\n"
    )
    assert content_problem(tmp_path / "mbox.eml", "mbox.eml") is None
    (tmp_path / "noise.eml").write_bytes(bytes(range(1, 256)) * 8)
    problem = content_problem(tmp_path / "noise.eml", "noise.eml") or ""
    assert "not an e-mail message" in problem and "From:" in problem
    (tmp_path / "prose.eml").write_text("Dear team, the meeting moved to Friday.\n")
    assert "not an e-mail message" in (content_problem(tmp_path / "prose.eml", "prose.eml") or "")


def test_text_that_begins_like_a_signature_is_still_text(tmp_path: Path) -> None:
    (tmp_path / "models.md").write_text("MZ-80 notes: the MZ-80K shipped in 1978.\n")
    assert content_problem(tmp_path / "models.md", "models.md") is None
