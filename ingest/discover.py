"""Paths given on the command line -> the files to ingest, and why others are left out.

Folders are walked recursively. Hidden entries (name starting with ".") and unknown file
types are skipped with a reason; a file named explicitly is taken even if hidden. Symbolic
links are followed, but a folder is never walked twice (symlink loops end there), and a
link that cannot be resolved is a failure with its reason. Sources are absolute paths
(symlinks not resolved), which is how documents are identified within a collection; a
name that is not valid UTF-8 keeps its odd bytes as `\\xNN` in its source.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ingest.parsing import FILE_TYPES, file_type_of, printable
from ingest.report import FileOutcome


@dataclass(frozen=True)
class Candidate:
    path: Path
    source: str
    file_type: str
    size: int


@dataclass
class Discovery:
    candidates: list[Candidate] = field(default_factory=list)
    left_out: list[FileOutcome] = field(default_factory=list)  # skipped or failed
    roots: list[str] = field(default_factory=list)  # absolute forms of the given paths
    seen: set[str] = field(default_factory=set)  # sources of the candidates


def source_of(path: Path) -> str:
    """A file's source: its absolute path as text. Bytes of a name that are not valid UTF-8
    are written as `\\xNN` (the file is still read by its real path), so that every source
    can be stored, printed and sent as JSON."""
    return printable(os.path.abspath(path))


def _describe(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop; fix or remove the link"
    if exc.errno == errno.EACCES:
        return "permission denied; make it readable by this user"
    if exc.errno == errno.ENOENT:
        return "no such file or directory"
    return exc.strerror or str(exc)


def _stat_failure(path: Path, exc: OSError) -> FileOutcome:
    reason = _describe(exc)
    if exc.errno == errno.ENOENT and path.is_symlink():
        reason = "broken symbolic link (its target does not exist)"
    return FileOutcome(source_of(path), "failed", reason)


def supported_types() -> str:
    return ", ".join(sorted(FILE_TYPES))


def discover(paths: list[Path]) -> Discovery:
    found = Discovery()
    visited_dirs: set[tuple[int, int]] = set()
    for given in paths:
        source = source_of(given)
        found.roots.append(source)
        try:
            info = given.stat()
        except OSError as exc:
            found.left_out.append(_stat_failure(given, exc))
            continue
        if stat.S_ISDIR(info.st_mode):
            _walk(given, found, visited_dirs)
        else:
            _consider(given, info, found, explicit=True)
    return found


def _walk(folder: Path, found: Discovery, visited: set[tuple[int, int]]) -> None:
    info = folder.stat()
    key = (info.st_dev, info.st_ino)
    if key in visited:
        found.left_out.append(
            FileOutcome(source_of(folder), "skipped", "folder already visited (symbolic link loop)")
        )
        return
    visited.add(key)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        found.left_out.append(FileOutcome(source_of(folder), "failed", _describe(exc)))
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith("."):
            found.left_out.append(FileOutcome(source_of(path), "skipped", "hidden"))
            continue
        try:
            info = path.stat()
        except OSError as exc:
            found.left_out.append(_stat_failure(path, exc))
            continue
        if stat.S_ISDIR(info.st_mode):
            _walk(path, found, visited)
        else:
            _consider(path, info, found, explicit=False)


def _consider(path: Path, info: os.stat_result, found: Discovery, explicit: bool) -> None:
    source = source_of(path)
    if not stat.S_ISREG(info.st_mode):
        found.left_out.append(FileOutcome(source, "skipped", "not a regular file"))
        return
    file_type = file_type_of(path)
    if file_type is None:
        suffix = path.suffix.lower() or "(none)"
        reason = f"unsupported file type {suffix}; supported: {supported_types()}"
        # A file named on the command line was wanted: not taking it is a failure.
        found.left_out.append(FileOutcome(source, "failed" if explicit else "skipped", reason))
        return
    if source in found.seen:
        return  # named twice (a file and its folder, say): ingest it once
    found.seen.add(source)
    found.candidates.append(Candidate(path, source, file_type, info.st_size))
