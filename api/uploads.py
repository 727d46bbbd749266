"""Uploaded files: safe names, where they are kept, and whether their bytes match their name.

An upload's file name comes from the client, so only its last path component is kept,
stripped of control characters and leading dots, and cut to 200 bytes (extension kept).
The declared content type is ignored: the first bytes are sniffed (`ingest.sniff`), and a
file whose content is not what its extension says (a PDF named .txt, an executable named
.pdf) is refused with a reason, before any parser sees it.

Originals are kept under `<files_dir>/collection-<id>/<name>` (`CITED_FILES_DIR`, default
`<data_dir>/files`); that path is the document's source, so uploading the same name into
the same collection again updates the document (or leaves it unchanged). Servers sharing
one PostgreSQL store share that folder (mounted at the same path on each), so any of them
serves any original. Uploads are staged on the server's own disk (`<data_dir>/staging/`):
a server starting up clears its own staging, never another's uploads in flight.
"""

from __future__ import annotations

import errno
import re
import shutil
import unicodedata
import uuid
from pathlib import Path

MAX_NAME_BYTES = 200


def keep(staged: Path, final: Path) -> None:
    """Move an ingested upload to where originals are kept: a rename on one file system;
    into a shared folder on another, a copy under a hidden temporary name, then a rename,
    so no server ever reads half an original."""
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        staged.replace(final)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        shutil.copyfile(staged, partial)
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)
    staged.unlink()


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
