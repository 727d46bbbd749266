"""GET /metrics: requests are counted by route, so the label set stays small and each
label means one thing."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.app import app_client


def _requests(metrics: str) -> dict[tuple[str, str], float]:
    """(route, status) -> count of GET requests, from a /metrics page."""
    counts = {}
    for line in metrics.splitlines():
        if line.startswith('cited_http_requests_total{method="GET"'):
            labels, value = line.rsplit(" ", 1)
            route = labels.split('route="', 1)[1].split('"', 1)[0]
            status = labels.split('status="', 1)[1].split('"', 1)[0]
            counts[(route, status)] = float(value)
    return counts


def test_static_files_have_a_route_of_their_own_and_unmatched_is_only_404s(
    tmp_path: Path,
) -> None:
    with app_client(tmp_path / "data") as client:
        for path in (
            "/",
            "/static/app.css",
            "/static/chat.js",
            "/docs",
            "/static/vendor/swagger-ui/swagger-ui-bundle.js",
            "/static/no-such-file.js",
            "/no-such-page",
        ):
            client.get(path)
        counts = _requests(client.get("/metrics").text)
    assert counts[("/static", "200")] == 3
    assert counts[("/static", "404")] == 1  # a file the mount does not have
    assert counts[("unmatched", "404")] == 1  # only the path nothing serves
    assert not any(route == "unmatched" and status != "404" for route, status in counts)
    assert counts[("/", "200")] == 1 and counts[("/docs", "200")] == 1
