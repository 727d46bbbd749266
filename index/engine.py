"""The SQLAlchemy engine of a store URL: SQLite (WAL, foreign keys, a busy timeout) or
PostgreSQL (JIT off: the store's queries run in milliseconds, and compiling one for a long
question took ~200 ms); any other backend, or a malformed URL, is a ConfigError naming
the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from index.errors import ConfigError

CONNECT_S = 5  # PostgreSQL connect timeout, unless the URL sets connect_timeout


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError and ValueError subclasses
        raise ConfigError(
            f"database URL {url!r} is not valid ({exc}); expected e.g. "
            "sqlite:///data/cited.db or postgresql+psycopg://user:pw@host/db"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            engine = create_engine(
                url, connect_args={"check_same_thread": False}, poolclass=StaticPool
            )
        else:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # libpq waits for an unanswering host as long as TCP does (minutes); a replica that
        # is down must fail fast so that its reads go to the primary (index.replica)
        timeout = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_S}
        engine = create_engine(url, pool_pre_ping=True, connect_args=timeout)
        event.listen(engine, "connect", _postgres_settings)
        return engine
    raise ConfigError(
        f"database backend {parsed.get_backend_name()!r} is not supported; use sqlite or postgresql"
    )
