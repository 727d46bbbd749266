"""Upload names made safe, and the folders originals are kept in (api/uploads.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.uploads import collection_folder, keep, safe_filename


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


def test_an_upload_is_kept_by_renaming_it_on_one_file_system(tmp_path: Path) -> None:
    staged = tmp_path / "staging" / "job" / "report.txt"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"the report")
    final = tmp_path / "files" / "collection-1" / "report.txt"
    keep(staged, final)
    assert final.read_bytes() == b"the report" and not staged.exists()


def test_an_upload_is_kept_whole_in_a_folder_on_another_file_system(tmp_path: Path) -> None:
    """A shared CITED_FILES_DIR is another file system than the server's staging folder:
    the original is copied under a hidden name and renamed, never left half written."""
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the temporary folder")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        staged = Path(other) / "report.txt"
        staged.write_bytes(b"x" * 300_000)
        final = tmp_path / "files" / "collection-1" / "report.txt"
        keep(staged, final)
        assert final.read_bytes() == b"x" * 300_000 and not staged.exists()
        assert [p.name for p in final.parent.iterdir()] == ["report.txt"]  # no partial left
