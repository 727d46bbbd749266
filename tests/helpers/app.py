"""The real app in-process, for route-level tests (FastAPI's TestClient: no server process,
no lifespan, so no model is loaded unless a route needs one)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings


@contextmanager
def app_client(
    data_dir: Path,
    base_url: str = "http://127.0.0.1:8000",
    database_url: str | None = None,
    **settings: Any,
) -> Iterator[TestClient]:
    """A client of `create_app()` over an empty data dir (its SQLite store unless
    `database_url` names another, such as conftest's `database_url` fixture), with these
    settings."""
    app = create_app(Settings(data_dir=data_dir, database_url=database_url, **settings))
    client = TestClient(app, base_url=base_url)
    try:
        yield client
    finally:
        client.close()
        app.state.services.close()
