"""Progress of an ingestion: a bar on a terminal, periodic log lines otherwise.

An ingestion has phases (checking the files' hashes, starting the parsers and the model,
then parsing, embedding and writing at once), and files end in bursts: a group of small
files is embedded and written together, so a count of files ended alone sat at 0/100 for a
minute and then jumped to 100/100. What is shown is therefore every count that moves:

    parsing and embedding: 37/100 files parsed, 412 chunks embedded (31/s), 20 files stored

and an estimate of the time left only once it means something: every file parsed (so the
chunks to embed are known) and some of them embedded at a measured rate.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ingest.report import FileOutcome

log = logging.getLogger("ingest.progress")

ESTIMATE_AFTER_CHUNKS = 64  # embedded before the rate is trusted for an estimate
ESTIMATE_AFTER_S = 5.0


class Progress(Protocol):
    def start(self, total_files: int) -> None: ...

    def phase(self, name: str, files: int | None = None) -> None:
        """What the run does now ("starting the parsers and the model", ...); `files`: how
        many files are to be parsed, once known."""
        ...

    def advance(
        self, parsed: int = 0, chunks: int = 0, embedded: int = 0, seconds: float = 0.0
    ) -> None:
        """`parsed` more files parsed into `chunks` more chunks; `embedded` more chunks
        embedded, in `seconds`."""
        ...

    def update(self, outcome: FileOutcome) -> None:
        """One more file ended: its outcome (and chunks, when it was stored)."""
        ...

    def close(self) -> None: ...


class NoProgress:
    def start(self, total_files: int) -> None:
        pass

    def phase(self, name: str, files: int | None = None) -> None:
        pass

    def advance(
        self, parsed: int = 0, chunks: int = 0, embedded: int = 0, seconds: float = 0.0
    ) -> None:
        pass

    def update(self, outcome: FileOutcome) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Tally:
    """The counts a progress display shows, and what follows from them."""

    total: int = 0
    phase: str = "checking the files"
    to_parse: int | None = None  # files to be parsed, once the unchanged are known
    parsed: int = 0  # files through the parsers (whether stored later or not)
    chunks: int = 0  # chunks of the files parsed
    embedded: int = 0
    ended: int = 0  # files with an outcome
    stored: int = 0  # of those, added or updated
    embedding_since: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def set_phase(self, name: str, files: int | None) -> None:
        self.phase = name
        if files is not None:
            self.to_parse = files

    def advance(self, parsed: int, chunks: int, embedded: int, seconds: float = 0.0) -> None:
        self.parsed += parsed
        self.chunks += chunks
        if embedded and self.embedding_since is None:
            self.embedding_since = self.clock() - seconds  # when these began
        self.embedded += embedded

    def end(self, outcome: FileOutcome) -> None:
        self.ended += 1
        if outcome.status in ("added", "updated"):
            self.stored += 1

    def rate(self) -> float | None:
        """Chunks embedded a second, since embedding began."""
        if self.embedding_since is None:
            return None
        return self.embedded / max(1e-6, self.clock() - self.embedding_since)

    def seconds_left(self) -> float | None:
        """Once every file is parsed and the rate measured: the embedding left at that rate."""
        rate = self.rate()
        all_parsed = self.to_parse is not None and self.parsed >= self.to_parse
        measured = (
            self.embedding_since is not None
            and self.embedded >= ESTIMATE_AFTER_CHUNKS
            and self.clock() - self.embedding_since >= ESTIMATE_AFTER_S
        )
        if rate is None or not rate or not all_parsed or not measured:
            return None
        return max(0.0, self.chunks - self.embedded) / rate

    def describe(self) -> str:
        parts = []
        if self.to_parse is not None and (self.parsed or self.phase.startswith("parsing")):
            parts.append(f"{self.parsed}/{self.to_parse} files parsed")
        if self.embedded:
            rate = self.rate()
            parts.append(f"{self.embedded}/{self.chunks} chunks embedded ({rate or 0:.0f}/s)")
        if self.stored:
            parts.append(f"{self.stored} files stored")
        left = self.seconds_left()
        if left is not None:
            parts.append(f"about {_duration(left)} left")
        return f"{self.phase}: " + ", ".join(parts) if parts else self.phase


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


class BarProgress:
    """tqdm bar on stderr: files ended / total, described by every count that moves (no
    tqdm estimate: files end in bursts)."""

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self.tally = Tally()

    def start(self, total_files: int) -> None:
        from tqdm import tqdm

        self.tally.total = total_files
        self._bar = tqdm(
            total=total_files,
            unit="file",
            file=self._stream,
            dynamic_ncols=True,
            bar_format="{n_fmt}/{total_fmt} files ended [{elapsed}] {postfix}",
        )
        self._show()

    def phase(self, name: str, files: int | None = None) -> None:
        self.tally.set_phase(name, files)
        self._show()

    def advance(
        self, parsed: int = 0, chunks: int = 0, embedded: int = 0, seconds: float = 0.0
    ) -> None:
        self.tally.advance(parsed, chunks, embedded, seconds)
        self._show()

    def update(self, outcome: FileOutcome) -> None:
        self.tally.end(outcome)
        if self._bar is not None:
            self._bar.update(1)
        self._show()

    def _show(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(self.tally.describe())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class LogProgress:
    """A log line at each phase, and at most every `interval` seconds between (for logs,
    CI, pipes)."""

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self.tally = Tally()
        self._emitted = ""
        self._last = time.monotonic()

    def start(self, total_files: int) -> None:
        self.tally.total = total_files
        self._last = time.monotonic()

    def phase(self, name: str, files: int | None = None) -> None:
        self.tally.set_phase(name, files)
        self._emit()

    def advance(
        self, parsed: int = 0, chunks: int = 0, embedded: int = 0, seconds: float = 0.0
    ) -> None:
        self.tally.advance(parsed, chunks, embedded, seconds)
        self._maybe()

    def update(self, outcome: FileOutcome) -> None:
        self.tally.end(outcome)
        self._maybe()

    def _maybe(self) -> None:
        if time.monotonic() - self._last >= self.interval:
            self._emit()

    def _emit(self) -> None:
        self._last = time.monotonic()
        line = f"{self.tally.ended}/{self.tally.total} files ended; {self.tally.describe()}"
        self._emitted = line
        log.info("progress %s", line)

    def close(self) -> None:
        line = f"{self.tally.ended}/{self.tally.total} files ended; {self.tally.describe()}"
        if self.tally.total and line != self._emitted:
            self._emit()


def for_stream(stream: Any) -> Progress:
    isatty = getattr(stream, "isatty", None)
    return BarProgress(stream) if isatty is not None and isatty() else LogProgress()
