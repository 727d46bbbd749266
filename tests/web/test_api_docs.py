"""/docs renders the API reference from files this server serves: offline, nothing from a
CDN, and the operations of /openapi.json listed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from playwright.sync_api import Browser, Route, expect

from tests.web.browser import new_tab


def test_the_api_reference_renders_offline(
    browser: Browser, site: SimpleNamespace, tmp_path: Path
) -> None:
    context, tab = new_tab(browser, site.base, tmp_path)
    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(site.base):
            route.continue_()
        else:  # as on a machine with no internet: any other host is unreachable
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    tab.page.goto(site.base + "/docs")
    expect(tab.page.locator(".swagger-ui .info .title")).to_contain_text("cited")
    for path in ("/v1/ask", "/v1/search", "/v1/documents", "/v1/chat/completions"):
        expect(tab.page.locator(f'.opblock-summary-path[data-path="{path}"]').first).to_be_visible()
    assert not elsewhere, elsewhere
    assert any(url.endswith("/openapi.json") for url in tab.requests)
    tab.check()
    context.close()
