"""Uploaded files: safe names, where they are kept, and whether their bytes match their name.

An upload's file name comes from the client, so only its last path component is kept,
stripped of control characters and leading dots, and cut to 200 bytes (extension kept).
The declared content type is ignored: the first bytes are sniffed, and a file whose
content is not what its extension says (a PDF named .txt, an executable named .pdf) is
refused with a reason, before any parser sees it.

Originals are kept under `<data_dir>/files/collection-<id>/<name>`; that path is the
document's source, so uploading the same name into the same collection again updates the
document (or leaves it unchanged). Uploads are staged under `<data_dir>/files/.staging/`
(same file system, so keeping one is a rename).
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path

from ingest import FILE_TYPES

MAX_NAME_BYTES = 200
SNIFF_BYTES = 8192
STAGING = ".staging"

# magic bytes -> what the content is (for messages), and the extension it should have
_SIGNATURES: list[tuple[bytes, str, str | None]] = [
    (b"%PDF-", "a PDF", ".pdf"),
    (b"PK\x03\x04", "a ZIP archive (Word, PowerPoint, EPUB or plain ZIP)", None),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", None),
    (b"GIF87a", "a GIF image", None),
    (b"GIF89a", "a GIF image", None),
    (b"\xff\xd8\xff", "a JPEG image", None),
    (b"MZ", "a Windows executable", None),
    (b"\x7fELF", "an ELF executable", None),
    (b"\x1f\x8b", "a gzip archive", None),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc/.ppt/.xls)", None),
]
_ZIP_MEMBERS = {
    ".docx": ("word/document.xml", "a Word .docx"),
    ".pptx": ("ppt/presentation.xml", "a PowerPoint .pptx"),
    ".epub": ("META-INF/container.xml", "an EPUB"),
}
_TEXT_TYPES = {"text", "markdown", "html", "csv", "email"}


def safe_filename(name: str) -> str:
    """The client's file name made safe to store: last path component, no control
    characters, no leading dots, at most 200 bytes. ValueError when nothing is left."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    name = name.lstrip(". ").rstrip(". ")
    if not name:
        raise ValueError("the file has no usable name; give it one such as report.pdf")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = "." + suffix if dot else ""
    budget = MAX_NAME_BYTES - len(suffix.encode())
    stem = stem.encode()[: max(budget, 1)].decode(errors="ignore") or "file"
    return stem + suffix


def collection_folder(collection_id: int) -> str:
    """The folder of a collection's originals, named by its id: names are free text, and
    no sanitising of them into folder names can keep two collections apart (a collection
    may be named exactly as another's sanitised name)."""
    return f"collection-{collection_id}"


def _what(head: bytes) -> tuple[str, str | None] | None:
    for magic, what, extension in _SIGNATURES:
        if head.startswith(magic):
            return what, extension
    return None


def content_problem(path: Path, name: str) -> str | None:
    """Why the bytes at `path` are not what `name`'s extension says, or None when they are."""
    suffix = Path(name).suffix.lower()
    file_type = FILE_TYPES.get(suffix)
    if file_type is None:
        known = ", ".join(sorted(FILE_TYPES))
        return f"unsupported file type {suffix or '(no extension)'!r}; supported: {known}"
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        return "empty file (0 bytes)"
    found = _what(head.lstrip())
    if file_type == "pdf":
        if b"%PDF-" in head[:1024]:
            return None
        return _mismatch(found, "a PDF", suffix)
    if suffix in _ZIP_MEMBERS:
        member, what = _ZIP_MEMBERS[suffix]
        if not head.startswith(b"PK\x03\x04"):
            return _mismatch(found, what, suffix)
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError) as exc:
            return f"the file is a damaged ZIP container ({exc}); {what} file is a ZIP archive"
        if member not in names:
            return f"the file is a ZIP archive but not {what} file (no {member} inside)"
        return None
    if file_type in _TEXT_TYPES:
        if found is not None:
            return _mismatch(found, "text", suffix)
        if b"\x00" in head:
            return f"binary data (NUL bytes) in a {suffix} file, which should be text"
    return None


def _mismatch(found: tuple[str, str | None] | None, expected: str, suffix: str) -> str:
    if found is None:
        return f"the content is not {expected}, as its {suffix} extension says"
    what, extension = found
    fix = f"; rename it to {extension}" if extension and extension != suffix else ""
    return f"the content is {what}, not {expected} as its {suffix} extension says{fix}"
