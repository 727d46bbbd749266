"""One writer at a time per data dir: an exclusive, non-blocking flock on `<data_dir>/writer.lock`.

The kernel drops the lock when the holder exits, even by `kill -9`, so a crashed writer never
leaves a stale lock behind. The holder's pid and command are written into the file only to
make the second writer's error message useful.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
from pathlib import Path
from types import TracebackType

from index.errors import WriterLockedError


class WriterLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "writer.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise WriterLockedError(
                f"{holder} is writing to {self.path.parent}; wait for it to finish "
                "(one writer at a time per data dir) and run this again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv[:3])})".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class SharedWriterLock:
    """The writer lock shared by the threads of one process (a server's ingestion job and
    its deletions): the first holder takes the file lock, the last one out releases it.
    Threads of the process still serialize their writes in the KnowledgeBase."""

    def __init__(self, data_dir: Path) -> None:
        self._lock = WriterLock(data_dir)
        self._mutex = threading.Lock()
        self._holders = 0

    def acquire(self) -> None:
        """Raises WriterLockedError when another process writes."""
        with self._mutex:
            if self._holders == 0:
                self._lock.acquire()
            self._holders += 1

    def release(self) -> None:
        with self._mutex:
            self._holders -= 1
            if self._holders == 0:
                self._lock.release()

    def __enter__(self) -> SharedWriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
