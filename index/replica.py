"""Reads a server may send to a PostgreSQL hot standby (CITED_DATABASE_READ_URL) instead of
the primary: the heavy, per-question ones.

What goes to the standby: the store generation and the chunk ids and stored embeddings the
FAISS index follows the store with (and builds itself from at start), the lexical search,
the chunk ids of a scope, and the stored vectors that re-score IVF candidates. What stays
on the primary: every write, and the join from chunk ids back to chunk and document rows,
document texts and listings, so a document deleted on the primary is never cited, however
far behind the standby is; a new one is found once the standby has replayed it (its lag).

Why following the standby is consistent: every write bumps the store generation under a
lock on its row, so writes commit, and the standby replays them, in generation order; what
the standby shows at generation G is exactly what the primary held at G. The knowledge base
reads the generation first and the ids after (so it never records more than it holds), and
with a standby only moves forward: a write made by this process on the primary is not
undone because the standby has not replayed it yet.

When the standby cannot be reached (also when the server starts), or cancels a read
because replay needed its rows (conflict with recovery), that read goes to the primary, a
warning is logged, and the standby is tried again after `retry_s`. A standby that is not
one of the primary's database (another cluster, another database name) is refused at
start, or, if first reached later, never used (logged as an error).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from index.errors import ConfigError, StoreError
from index.types import IndexState, Scope

if TYPE_CHECKING:
    from index.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_S = 30.0


class Reads(Protocol):
    """The store reads a knowledge base follows the store with (`Store.reads`)."""

    @property
    def replica(self) -> bool:
        """True when they may come from a standby, behind the primary."""

    def state(self) -> IndexState: ...

    def chunk_ids(self) -> np.ndarray: ...

    def count_chunks(self) -> int: ...

    def scope_chunk_ids(self, scope: Scope) -> np.ndarray: ...

    def iter_embeddings(
        self,
        dimension: int,
        ids: Sequence[int] | None = None,
        batch: int = 20000,
        after: int = 0,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def removed_since(self, generation: int) -> np.ndarray | None: ...

    def lexical_search(
        self, question: str, k: int, scope: Scope | None = None
    ) -> list[tuple[int, float]]: ...


def _identity(store: Store) -> tuple[int, str, bool]:
    """(cluster system identifier, database name, in recovery) of a PostgreSQL store."""
    with store.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT system_identifier, current_database(), pg_is_in_recovery() "
                "FROM pg_control_system()"
            )
        ).one()
    return int(row[0]), str(row[1]), bool(row[2])


class ReplicaReads:
    """`Reads` from `standby` (a hot standby of `primary`'s database), falling back to the
    primary while it fails. Checks at construction that it is one."""

    replica = True

    def __init__(
        self,
        primary: Store,
        standby: Store,
        retry_s: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if primary.dialect != "postgresql" or standby.dialect != "postgresql":
            raise ConfigError(
                "CITED_DATABASE_READ_URL needs PostgreSQL for both it and CITED_DATABASE_URL "
                "(a hot standby of the primary); unset it to read everything from the store"
            )
        self.primary = primary
        self.standby = standby
        self.retry_s = retry_s
        self.clock = clock
        self._down_until = 0.0
        self._verified = False
        self.last_failure: str | None = None
        try:
            self._verify()
        except OperationalError as exc:  # down now: start on the primary, verify it later
            self._failed(exc)

    def _verify(self) -> None:
        """Check that the standby is one of the primary's database (ConfigError if not);
        OperationalError when either cannot be reached."""
        ours = _identity(self.primary)
        theirs = _identity(self.standby)
        if ours[:2] != theirs[:2]:
            raise ConfigError(
                f"CITED_DATABASE_READ_URL ({self.standby.display_url}) is not a replica of "
                f"CITED_DATABASE_URL ({self.primary.display_url}): it must be a streaming "
                "(physical) standby of the same cluster, and name the same database "
                f"(found database {theirs[1]!r} of cluster {theirs[0]}, expected {ours[1]!r} "
                f"of cluster {ours[0]})"
            )
        if not theirs[2]:
            log.info("CITED_DATABASE_READ_URL names the primary itself: reads go there too")
        self._verified = True

    def close(self) -> None:
        self.standby.close()

    def _usable(self) -> bool:
        """Whether to try the standby now: not failed lately, and verified (first, if it
        was down when the server started)."""
        if self.clock() < self._down_until:
            return False
        if not self._verified:
            try:
                self._verify()
            except OperationalError as exc:
                self._failed(exc)
                return False
            except ConfigError as exc:
                self._down_until = float("inf")
                self.last_failure = exc.message
                log.error("read replica not used: %s", exc.message)
                return False
        return True

    def _read(self, read: Callable[[Store], T]) -> T:
        if self._usable():
            try:
                return read(self.standby)
            except (OperationalError, ProgrammingError, StoreError) as exc:
                self._failed(exc)
        return read(self.primary)

    def _failed(self, exc: Exception) -> None:
        self._down_until = self.clock() + self.retry_s
        self.last_failure = _first_line(exc)
        log.warning(
            "read replica %s failed (%s); reading from the primary for %.0f s",
            self.standby.display_url,
            self.last_failure,
            self.retry_s,
        )

    def state(self) -> IndexState:
        return self._read(lambda store: store.state())

    def chunk_ids(self) -> np.ndarray:
        return self._read(lambda store: store.chunk_ids())

    def count_chunks(self) -> int:
        return self._read(lambda store: store.count_chunks())

    def scope_chunk_ids(self, scope: Scope) -> np.ndarray:
        return self._read(lambda store: store.scope_chunk_ids(scope))

    def lexical_search(
        self, question: str, k: int, scope: Scope | None = None
    ) -> list[tuple[int, float]]:
        return self._read(lambda store: store.lexical_search(question, k, scope))

    def removed_since(self, generation: int) -> np.ndarray | None:
        return self._read(lambda store: store.removed_since(generation))

    def iter_embeddings(
        self,
        dimension: int,
        ids: Sequence[int] | None = None,
        batch: int = 20000,
        after: int = 0,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """As Store.iter_embeddings. The standby failing before its first batch sends the
        whole read to the primary; failing later raises (the caller's next read falls back:
        the knowledge base's catch-up is idempotent)."""
        if not self._usable():
            yield from self.primary.iter_embeddings(dimension, ids, batch, after)
            return
        batches = self.standby.iter_embeddings(dimension, ids, batch, after)
        try:
            first = next(batches, None)
        except (OperationalError, ProgrammingError) as exc:
            self._failed(exc)
            yield from self.primary.iter_embeddings(dimension, ids, batch, after)
            return
        if first is None:
            return
        yield first
        try:
            yield from batches
        except (OperationalError, ProgrammingError) as exc:
            self._failed(exc)
            raise StoreError(
                f"the read replica at {self.standby.display_url} failed during a read "
                f"({self.last_failure}); the next read goes to the primary"
            ) from exc

    def describe(self) -> dict[str, Any]:
        """For /readyz: the standby, its generation against the primary's, where reads go."""
        shown: dict[str, Any] = {"url": self.standby.display_url}
        try:
            primary = self.primary.state().generation
            standby = self.standby.state().generation
            shown.update(generation=standby, behind=max(primary - standby, 0))
        except (OperationalError, ProgrammingError, StoreError) as exc:
            shown["error"] = _first_line(exc)
        shown["reading_from"] = "replica" if self.clock() >= self._down_until else "primary"
        if self.last_failure is not None:
            shown["last_failure"] = self.last_failure
        return shown


def _first_line(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__
