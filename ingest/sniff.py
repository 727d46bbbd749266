"""Whether a file's bytes are what its extension says, judged from its first bytes.

Used on every file before a parser sees it, by `cited ingest` and by uploads alike, so a
PDF named .txt, an executable named .pdf or random bytes named .eml are refused with a
reason (and a fix, where the content is recognised) instead of being stored as garbage.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ingest.parsing import FILE_TYPES, bom_encoding

SNIFF_BYTES = 8192

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
# The first line of an e-mail message: a header field ("Name: value", RFC 5322) or the
# "From " line of an mbox export.
_MAIL_START = re.compile(rb"(From |[!-9;-~]+:)")


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
        return _zip_problem(path, head, found, suffix)
    if file_type in _TEXT_TYPES:
        return _text_problem(head, found, file_type, suffix)
    return None


def _what(head: bytes) -> tuple[str, str | None] | None:
    for magic, what, extension in _SIGNATURES:
        # "MZ" also begins ordinary words; an executable's header holds NULs as well.
        if head.startswith(magic) and (magic != b"MZ" or b"\x00" in head[:64]):
            return what, extension
    return None


def _zip_problem(
    path: Path, head: bytes, found: tuple[str, str | None] | None, suffix: str
) -> str | None:
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


def _text_problem(
    head: bytes, found: tuple[str, str | None] | None, file_type: str, suffix: str
) -> str | None:
    marked = bom_encoding(head)
    if marked is not None:  # UTF-16 and UTF-32 text is full of NULs
        encoding, skip = marked
        text = head[skip:].decode(encoding, errors="ignore").encode("utf-8", "ignore")
    else:
        if found is not None:
            return _mismatch(found, "text", suffix)
        if b"\x00" in head:
            return f"binary data (NUL bytes) in a {suffix} file, which should be text"
        text = head
    if file_type == "email" and not _MAIL_START.match(text.lstrip()):
        return (
            f"the content is not an e-mail message, as its {suffix} extension says: it does not "
            "start with header lines such as From: or Subject:"
        )
    return None


def _mismatch(found: tuple[str, str | None] | None, expected: str, suffix: str) -> str:
    if found is None:
        return f"the content is not {expected}, as its {suffix} extension says"
    what, extension = found
    fix = f"; rename it to {extension}" if extension and extension != suffix else ""
    return f"the content is {what}, not {expected} as its {suffix} extension says{fix}"
