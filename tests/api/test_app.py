"""`cited serve` over real HTTP: /healthz and the start page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.server import running_server


@pytest.mark.slow
def test_serve_answers_healthz_and_the_start_page(tmp_path: Path) -> None:
    with running_server(tmp_path, tmp_path / "server.log", ready="/healthz") as base:
        health = httpx.get(f"{base}/healthz", timeout=2)
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "documents": 0, "chunks": 0}
        page = httpx.get(base + "/", timeout=5)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "What to do next" in page.text and "cited ingest" in page.text
