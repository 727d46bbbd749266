"""`cited serve` on a copy of the web corpus, for the browser tests' servers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from tests.api.server import running_server


def serve_corpus(
    ingested: Path, top: Path, env: dict[str, str] | None = None
) -> Iterator[SimpleNamespace]:
    """`cited serve` on a copy of the ingested corpus (its data dir is `data`): no API keys
    unless `env` sets them, uploads up to 1 MB."""
    shutil.copytree(ingested / "data", top / "data")
    env = {"CITED_UPLOAD_MAX_MB": "1", **(env or {})}
    with running_server(top / "data", top / "server.log", env=env) as base:
        yield SimpleNamespace(
            base=base, folder=ingested / "in", data=top / "data", log=top / "server.log", env=env
        )
