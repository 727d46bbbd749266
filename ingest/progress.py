"""Progress of an ingestion: a bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Protocol

from ingest.report import FileOutcome

log = logging.getLogger("ingest.progress")


class Progress(Protocol):
    def start(self, total_files: int) -> None: ...

    def update(self, outcome: FileOutcome) -> None:
        """One more file done: its outcome (and chunks, when it was stored)."""
        ...

    def close(self) -> None: ...


class NoProgress:
    def start(self, total_files: int) -> None:
        pass

    def update(self, outcome: FileOutcome) -> None:
        pass

    def close(self) -> None:
        pass


class BarProgress:
    """tqdm bar on stderr: files done / total, with chunks and chunks/s."""

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self._chunks = 0
        self._started = time.monotonic()

    def start(self, total_files: int) -> None:
        from tqdm import tqdm

        self._started = time.monotonic()
        self._bar = tqdm(total=total_files, unit="file", file=self._stream, dynamic_ncols=True)

    def update(self, outcome: FileOutcome) -> None:
        self._chunks += outcome.chunks
        if self._bar is not None:
            rate = self._chunks / max(1e-6, time.monotonic() - self._started)
            self._bar.set_postfix_str(f"{self._chunks} chunks, {rate:.0f} chunks/s", refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class LogProgress:
    """A log line at most every `interval` seconds (for logs, CI, pipes)."""

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self._files = self._chunks = self._total = 0
        self._emitted = (-1, -1)
        self._started = self._last = time.monotonic()

    def start(self, total_files: int) -> None:
        self._total = total_files
        self._started = self._last = time.monotonic()

    def update(self, outcome: FileOutcome) -> None:
        self._files += 1
        self._chunks += outcome.chunks
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._emit(now)

    def _emit(self, now: float) -> None:
        self._emitted = (self._files, self._chunks)
        rate = self._chunks / max(1e-6, now - self._started)
        log.info(
            "progress files=%d/%d chunks=%d chunks_per_s=%.1f",
            self._files,
            self._total,
            self._chunks,
            rate,
        )

    def close(self) -> None:
        if self._total and self._emitted != (self._files, self._chunks):
            self._emit(time.monotonic())


def for_stream(stream: Any) -> Progress:
    isatty = getattr(stream, "isatty", None)
    return BarProgress(stream) if isatty is not None and isatty() else LogProgress()
