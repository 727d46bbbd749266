"""The PostgreSQL hot standby the read-replica tests use (.ci/standby makes it): its URL,
waiting until it has replayed what the primary wrote, and holding its replay paused so a
test can put it behind the primary at will."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

REPLICA_URL = os.environ.get(
    "CITED_TEST_POSTGRES_REPLICA_URL",
    "postgresql+psycopg://cited:cited@127.0.0.1:5433/cited_test",
)


def _scalar(url: str, sql: str) -> object:
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def require_standby() -> str:
    """The standby's URL; skips (fails under CITED_REQUIRE_REPLICA, as in CI) when there is
    no hot standby there."""
    try:
        in_recovery = _scalar(REPLICA_URL, "SELECT pg_is_in_recovery()")
    except OperationalError as exc:
        reason = f"no PostgreSQL standby at {REPLICA_URL} ({str(exc.orig).splitlines()[0]})"
    else:
        if in_recovery:
            return REPLICA_URL
        reason = f"{REPLICA_URL} is not a standby (not in recovery)"
    reason += "; .ci/standby makes one (CITED_TEST_POSTGRES_REPLICA_URL names another)"
    if os.environ.get("CITED_REQUIRE_REPLICA"):
        pytest.fail(reason)
    pytest.skip(reason)


def wait_replayed(primary_url: str, standby_url: str, timeout_s: float = 10.0) -> None:
    """Until the standby has replayed everything the primary had written when called."""
    target = _scalar(primary_url, "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + timeout_s
    while not _scalar(standby_url, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
        assert time.monotonic() < deadline, f"the standby did not replay up to {target}"
        time.sleep(0.02)


@contextmanager
def replay_paused(standby_url: str) -> Iterator[None]:
    """The standby's replay paused inside the block (what the primary writes then is not
    seen there), resumed after it whatever happens."""
    _scalar(standby_url, "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        _scalar(standby_url, "SELECT pg_wal_replay_resume()")


@contextmanager
def forwarding(port: int, target: str) -> Iterator[None]:
    """A TCP forwarder listening on 127.0.0.1:`port` to `target` (host:port) inside the
    block: a standby that comes up at that address, and goes down after."""
    import socket
    import threading

    host, _, target_port = target.rpartition(":")
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(0.1)
    open_sockets: list[socket.socket] = [listener]
    stop = threading.Event()

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # the other side closed: this direction ends too
        finally:
            sink.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection((host, int(target_port)))
            open_sockets.extend((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for sock in open_sockets:
            sock.close()
