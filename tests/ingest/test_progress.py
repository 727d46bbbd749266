"""Progress: every count that moves (files parsed, chunks embedded, files stored) under the
phase's name, an estimate only once it means something; a bar on a terminal, log lines
otherwise."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from index import KnowledgeBase, SentenceTransformerEmbedder, Store
from ingest import Ingestor
from ingest.progress import BarProgress, LogProgress, Tally, for_stream
from ingest.report import FileOutcome


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_phases_and_counts_that_move() -> None:
    terminal = Terminal()
    progress = for_stream(terminal)
    assert isinstance(progress, BarProgress)
    progress.start(3)
    progress.phase("starting the parsers and the model", files=3)
    assert "starting the parsers and the model" in terminal.getvalue()
    progress.phase("parsing, embedding and writing")
    progress.advance(parsed=2, chunks=40)
    assert "2/3 files parsed" in terminal.getvalue()  # before any file ended
    progress.advance(embedded=30)
    progress.update(FileOutcome("a.txt", "added", chunks=30))
    progress.update(FileOutcome("b.txt", "failed", "no text found in the file"))
    progress.close()
    shown = terminal.getvalue()
    assert "30/40 chunks embedded" in shown and "1 files stored" in shown
    assert "2/3 files ended" in shown


def test_an_estimate_only_once_every_file_is_parsed_and_the_rate_measured() -> None:
    now = [100.0]
    tally = Tally(total=4, clock=lambda: now[0])
    tally.set_phase("parsing, embedding and writing", files=4)
    tally.advance(parsed=3, chunks=300, embedded=0)
    tally.advance(parsed=0, chunks=0, embedded=100)
    now[0] += 10
    assert tally.seconds_left() is None  # a file is still being parsed: chunks unknown
    tally.advance(parsed=1, chunks=100, embedded=0)
    assert tally.seconds_left() == pytest.approx(30.0)  # 300 left at 10 a second
    assert "about 30 s left" in tally.describe()
    early = Tally(total=1, clock=lambda: now[0])
    early.set_phase("parsing, embedding and writing", files=1)
    early.advance(parsed=1, chunks=500, embedded=10)
    now[0] += 1
    assert early.seconds_left() is None  # ten chunks in one second say little yet


def test_a_pipe_gets_a_line_per_phase_and_counts_before_files_end(
    caplog: pytest.LogCaptureFixture, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(20):
        (folder / f"note{i:02}.txt").write_text(f"Locker {i} holds the spare keys of room {i}.\n")
    store = Store(f"sqlite:///{tmp_path / 'cited.db'}")
    kb = KnowledgeBase(store, tmp_path / "vectors.faiss", embedder.model_name)
    progress = LogProgress(interval=0.0)
    with caplog.at_level(logging.INFO, logger="ingest.progress"):
        report = Ingestor(kb, embedder, parse_workers=1, progress=progress).run([folder], "hr")
    store.close()
    assert report.counts["added"] == 20
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress")]
    assert any("starting the parsers and the model" in line for line in lines)
    # the 20 files are embedded and written as one group: parsing shows before any ends
    assert any(
        line.startswith("progress 0/20 files ended") and "files parsed" in line for line in lines
    )
    assert lines[-1].startswith("progress 20/20 files ended") and "20 files stored" in lines[-1]
