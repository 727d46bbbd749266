"""Uploaded files: safe names, where they are kept, and whether their bytes match their name.

An upload's file name comes from the client, so only its last path component is kept,
stripped of control characters and leading dots, and cut to 200 bytes (extension kept).
The declared content type is ignored: the first bytes are sniffed (`ingest.sniff`), and a
file whose content is not what its extension says (a PDF named .txt, an executable named
.pdf) is refused with a reason, before any parser sees it.

Originals are kept under `<data_dir>/files/collection-<id>/<name>`; that path is the
document's source, so uploading the same name into the same collection again updates the
document (or leaves it unchanged). Uploads are staged under `<data_dir>/files/.staging/`
(same file system, so keeping one is a rename).
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 200
STAGING = ".staging"


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
