"""One writer at a time per store: the file lock of a SQLite data dir, the advisory lock of
a PostgreSQL database (shared by every server and `cited ingest` on any machine), and
their release when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from index import (
    DatabaseWriterLock,
    SharedWriterLock,
    WriterLock,
    WriterLockedError,
    writer_lock,
)
from tests.conftest import POSTGRES_URL, _reset_postgres

HOLD = """
import sys, time
from index import writer_lock
lock = writer_lock(__import__("pathlib").Path(sys.argv[1]), sys.argv[2])
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_the_store_decides_the_kind_of_lock(tmp_path: Path) -> None:
    assert isinstance(writer_lock(tmp_path, f"sqlite:///{tmp_path}/cited.db"), WriterLock)
    assert isinstance(writer_lock(tmp_path, POSTGRES_URL), DatabaseWriterLock)


@contextmanager
def _holder(tmp_path: Path, database: str) -> Iterator[subprocess.Popen[str]]:
    """A process holding the store's writer lock, killed with -9 on exit."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), database],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    ) as process:
        assert process.stdout is not None
        try:
            assert process.stdout.readline().strip() == "held"
            yield process
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()


def _acquired_within(lock: WriterLock | DatabaseWriterLock, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            lock.acquire()
            lock.release()
            return True
        except WriterLockedError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


@pytest.mark.postgres
def test_a_second_writer_of_a_postgresql_store_is_told_who_writes(tmp_path: Path) -> None:
    _reset_postgres(POSTGRES_URL)
    # another data dir, as a server on another machine has: the database decides
    with (
        DatabaseWriterLock(POSTGRES_URL),
        pytest.raises(WriterLockedError, match=f"pid {os.getpid()} on .*wait for it"),
    ):
        writer_lock(tmp_path / "elsewhere", POSTGRES_URL).acquire()
    with DatabaseWriterLock(POSTGRES_URL):  # released on exit, usable again
        pass


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_writer_killed_with_9_frees_the_lock(tmp_path: Path, kind: str) -> None:
    database = f"sqlite:///{tmp_path}/cited.db" if kind == "sqlite" else POSTGRES_URL
    if kind == "postgresql":
        _reset_postgres(POSTGRES_URL)
    with (
        _holder(tmp_path, database) as process,
        pytest.raises(WriterLockedError, match=f"pid {process.pid} on "),
    ):
        writer_lock(tmp_path, database).acquire()
    assert _acquired_within(writer_lock(tmp_path, database), 5.0)


@pytest.mark.postgres
def test_threads_of_one_server_share_its_postgresql_lock(tmp_path: Path) -> None:
    _reset_postgres(POSTGRES_URL)
    shared = SharedWriterLock(DatabaseWriterLock(POSTGRES_URL))
    # an upload's job and a deletion of the same server hold it together
    with shared, shared, pytest.raises(WriterLockedError):
        DatabaseWriterLock(POSTGRES_URL).acquire()
    assert _acquired_within(DatabaseWriterLock(POSTGRES_URL), 0.0)
