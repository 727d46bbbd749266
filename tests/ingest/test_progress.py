"""Progress: a bar with files, chunks and chunks/s on a terminal; log lines otherwise."""

from __future__ import annotations

import io
import logging

import pytest

from ingest.progress import BarProgress, LogProgress, for_stream
from ingest.report import FileOutcome


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_files_chunks_and_rate() -> None:
    terminal = Terminal()
    progress = for_stream(terminal)
    assert isinstance(progress, BarProgress)
    progress.start(3)
    progress.update(FileOutcome("a.txt", "added", chunks=40))
    progress.update(FileOutcome("b.txt", "failed", "no text found in the file"))
    progress.update(FileOutcome("c.txt", "updated", chunks=10))
    progress.close()
    shown = terminal.getvalue()
    assert "3/3" in shown and "50 chunks" in shown and "chunks/s" in shown


def test_a_pipe_gets_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    progress = for_stream(io.StringIO())
    assert isinstance(progress, LogProgress)
    with caplog.at_level(logging.INFO, logger="ingest.progress"):
        progress.start(2)
        progress.update(FileOutcome("a.txt", "added", chunks=7))
        progress.update(FileOutcome("b.txt", "unchanged"))
        progress.close()
    lines = [r.getMessage() for r in caplog.records if "files=" in r.getMessage()]
    assert len(lines) == 1  # the closing line is not repeated when nothing changed
    assert lines[0].startswith("progress files=2/2 chunks=7 chunks_per_s=")
