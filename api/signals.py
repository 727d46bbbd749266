"""Stopping when asked: SIGTERM and Ctrl-C end `cited ingest` and `cited serve` within
seconds, without losing what was written.

    first signal    the running ingestion stops at its next safe point (ingest.StopRequest):
                    the document being written commits or rolls back, the rest is reported
                    `interrupted`; the server stops taking requests
    second signal   the process ends at once (what was committed stays: every write is a
                    transaction, and the vector index is checked against the store at start)

Both handlers only set flags and write with os.write: a Python signal handler runs in the
main thread between two bytecodes, possibly inside a lock or a print of that same thread.

For the server, uvicorn's own shutdown waits for every open request before the app's
lifespan ends, and an upload waiting for its job (`wait=true`) would wait for an ingestion
nobody stops: so the jobs are told to stop at the signal itself, and the wait for requests
is bounded (SHUTDOWN_GRACE_S).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from ingest import StopRequest

SIGNALS = (signal.SIGINT, signal.SIGTERM)
SHUTDOWN_GRACE_S = 10  # open requests get this long after a stop signal


def _say(text: str) -> None:
    os.write(2, (text + "\n").encode("utf-8", "replace"))


def signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


@contextmanager
def stop_on_signals(stop: StopRequest, what: str) -> Iterator[list[int]]:
    """While inside: the first SIGINT/SIGTERM asks `stop` to stop `what` (a run of
    ingestion), a second ends the process with 128 + the signal's number. Yields the
    signals received."""
    received: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        if received:
            _say(f"{signal_name(signum)} again: quitting now")
            os._exit(128 + signum)
        received.append(signum)
        stop.stop(f"{what} was stopped ({signal_name(signum)})")
        _say(
            f"stopping {what} after the current step ({signal_name(signum)}); "
            "send it again to quit at once"
        )

    previous = {signum: signal.signal(signum, handle) for signum in SIGNALS}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class StoppingServer(uvicorn.Server):
    """uvicorn's server, which also tells the ingestion jobs to stop when a stop signal
    arrives (before waiting for the open requests, some of which wait for those jobs)."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[str], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_stop(f"the server was stopped ({signal_name(sig)})")
        super().handle_exit(sig, frame)
