"""`cited serve` over real HTTP: /healthz and the chat page with its static files."""

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
        assert "cited ingest" in page.text and "/static/main.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert httpx.head(base + "/", timeout=5).status_code == 200
        for name, kind in [("main.js", "javascript"), ("app.css", "text/css")]:
            asset = httpx.get(f"{base}/static/{name}", timeout=5)
            assert asset.status_code == 200 and kind in asset.headers["content-type"]
            assert asset.headers["cache-control"] == "no-cache" and asset.headers["etag"]
        assert httpx.get(base + "/static/%2e%2e/index.html", timeout=5).status_code == 404
