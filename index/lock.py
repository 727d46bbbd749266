"""One writer at a time per store.

- SQLite (one machine): an exclusive, non-blocking flock on `<data_dir>/writer.lock`. The
  kernel drops the lock when the holder exits, even by `kill -9`, so a crashed writer never
  leaves a stale lock behind. The holder's pid and command are written into the file only
  to make the second writer's error message useful.
- PostgreSQL (any number of servers and `cited ingest` runs on any machines, one
  database): a session-level advisory lock, held on a connection of its own for as long as
  the writer writes. PostgreSQL drops it when that connection ends, so a writer killed with
  -9 frees it at once (its socket closes); a machine that vanishes frees it when the
  server's TCP keepalive gives up on it (docs/deploy.md). The holder names itself in its
  connection's application_name, which the second writer's error message quotes.

`writer_lock` picks the kind by the database URL.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from index.errors import ConfigError, WriterLockedError

log = logging.getLogger(__name__)


class Lock(Protocol):
    def acquire(self) -> None: ...

    def release(self) -> None: ...


class _Held:
    """`with lock:` acquires it and releases it on the way out."""

    def acquire(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def writer_lock(data_dir: Path, database: str) -> WriterLock | DatabaseWriterLock:
    """The writer lock of the store at `database` (a SQLAlchemy URL)."""
    if database.startswith("postgresql"):
        return DatabaseWriterLock(database)
    return WriterLock(data_dir)


def _holder() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()} ({' '.join(sys.argv[:3])})"


class WriterLock(_Held):
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
        os.pwrite(fd, _holder().encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


# Advisory lock keys of cited's writer: ("cite", 1). Advisory locks are per database, so two
# cited stores in two databases of one server never block each other.
LOCK_KEYS = (0x63697465, 1)
_APPLICATION = 63  # PostgreSQL keeps at most this many bytes of an application_name


class DatabaseWriterLock(_Held):
    """The writer lock of a PostgreSQL store: pg_try_advisory_lock on a connection of its
    own (autocommit, so it never sits idle in a transaction), kept open while held."""

    def __init__(self, database: str) -> None:
        if not database.startswith("postgresql"):
            raise ConfigError(f"a database writer lock needs PostgreSQL, got {database!r}")
        self.database = database
        self._engine: Any = None
        self._connection: Any = None

    def acquire(self) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        if self._engine is None:  # made once: a waiting job tries again every half second
            self._engine = create_engine(
                self.database,
                poolclass=NullPool,
                isolation_level="AUTOCOMMIT",
                connect_args={"application_name": f"cited writer {_holder()}"[:_APPLICATION]},
            )
        connection = self._engine.connect()
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:a, :b)"),
                {"a": LOCK_KEYS[0], "b": LOCK_KEYS[1]},
            ).scalar_one()
            if not got:
                raise WriterLockedError(
                    f"{self._who_holds(connection)} is writing to this PostgreSQL store; wait "
                    "for it to finish (one writer at a time per store) and run this again"
                )
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    @staticmethod
    def _who_holds(connection: Any) -> str:
        from sqlalchemy import text

        row = connection.execute(
            text(
                "SELECT a.application_name, a.client_addr FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.classid = :a AND l.objid = :b AND l.objsubid = 2 AND l.granted"
            ),
            {"a": LOCK_KEYS[0], "b": LOCK_KEYS[1]},
        ).first()
        if row is None:
            return "another process"
        name = (row[0] or "").removeprefix("cited writer ") or "another client"
        return f"{name} from {row[1]}" if row[1] else name

    def release(self) -> None:
        if self._connection is None:
            return
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        try:
            self._connection.execute(
                text("SELECT pg_advisory_unlock(:a, :b)"),
                {"a": LOCK_KEYS[0], "b": LOCK_KEYS[1]},
            )
        except DBAPIError as exc:  # the connection is gone, and the lock went with it
            log.warning("writer lock connection lost before release: %s", exc.orig)
        finally:
            self._connection.close()  # no pool: the connection, and the lock, end here
            self._connection = None


class SharedWriterLock(_Held):
    """The writer lock shared by the threads of one process (a server's ingestion job and
    its deletions): the first holder takes the store's lock, the last one out releases it.
    Threads of the process still serialize their writes in the KnowledgeBase."""

    def __init__(self, lock: Lock) -> None:
        self._lock = lock
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
