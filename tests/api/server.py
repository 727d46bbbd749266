"""`cited serve` in a subprocess on a free port, for tests over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    data_dir: Path, log: Path, env: dict[str, str] | None = None, ready: str = "/readyz"
) -> Iterator[str]:
    """The base URL of a server on `data_dir` (SQLite there unless `env` names a
    CITED_DATABASE_URL), once `ready` answers 200; its output goes to `log`. Stopped on
    exit."""
    with server_process(data_dir, log, env, ready) as (base, _):
        yield base


@contextmanager
def server_process(
    data_dir: Path, log: Path, env: dict[str, str] | None = None, ready: str = "/readyz"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As running_server, with the process (for tests that kill it)."""
    port = free_port()
    full_env = {**os.environ, "CITED_DATA_DIR": str(data_dir)}
    full_env.pop("CITED_DATABASE_URL", None)
    full_env.update(env or {})
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("cited")), "serve", "--port", str(port)],
            env=full_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(base + ready, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server not ready in 90 s: " + log.read_text()
            time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def sse_events(lines: Iterable[str]) -> list[tuple[str | None, Any]]:
    """(event name, JSON data) of each server-sent event in these lines."""
    parsed, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            parsed.append((name, json.loads(line[6:])))
    return parsed


def http_texts(client: httpx.Client) -> Any:
    """Stands in for the knowledge base in `assert_contract`: document texts read over HTTP
    (GET /v1/documents/{id}/text), as a client would check invariant 1."""

    def document_text(document_id: str) -> str:
        response = client.get(f"/v1/documents/{document_id}/text")
        assert response.status_code == 200, response.text
        return response.text

    return SimpleNamespace(store=SimpleNamespace(document_text=document_text))
