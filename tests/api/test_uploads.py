"""Upload names made safe, and content sniffed against the extension (api/uploads.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.uploads import collection_folder, content_problem, safe_filename
from tests.files import make_docx, make_pdf


@pytest.mark.parametrize(
    ("given_name", "kept"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\system.ini.md", "system.ini.md"),
        ("/abs/path/notes.md", "notes.md"),
        (".bashrc.md", "bashrc.md"),
        ("tab\there\x00.txt", "tabhere.txt"),
        ("Résumé 2024.docx", "Résumé 2024.docx"),
    ],
)
def test_safe_filename_keeps_only_a_plain_last_component(given_name: str, kept: str) -> None:
    assert safe_filename(given_name) == kept


@pytest.mark.parametrize("bad", ["", "..", "../", "\x00\x01", " . "])
def test_a_name_with_nothing_usable_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="no usable name"):
        safe_filename(bad)


@given(st.text(min_size=1, max_size=400))
def test_safe_names_never_escape_their_folder(name: str) -> None:
    try:
        safe = safe_filename(name)
    except ValueError:
        return
    assert "/" not in safe and "\\" not in safe
    assert not safe.startswith(".")
    assert len(safe.encode()) <= 200
    assert all(ord(c) >= 32 for c in safe)


def test_collection_folders_are_named_by_id() -> None:
    assert collection_folder(7) == "collection-7"
    assert collection_folder(7) != collection_folder(17)


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
