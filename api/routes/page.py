"""The chat page: web/index.html at `/` and its scripts and styles under /static; the API
reference at `/docs` (web/docs.html: Swagger UI served from web/static/vendor, never a CDN).

The page is served with a strict Content-Security-Policy: scripts, styles and requests from
this origin only, no inline code, and Trusted Types required, so the browser itself refuses
any assignment of a string to innerHTML. The page inserts document text and answers as text
only (web/static/dom.js); the policy is the second line of defence.

The static files are revalidated on every load (`Cache-Control: no-cache` with the ETag
starlette sends), so an upgraded server never runs with yesterday's scripts.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)
# Swagger UI writes markup and styles from its own script (no Trusted Types), and fetches
# nothing but /openapi.json and, when a reader tries a request, the API itself.
DOCS_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class _Revalidated(StaticFiles):
    """Static files that the browser revalidates (ETag) before each use."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"cache-control", b"no-cache"),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    """Serve the page at `/`, the API reference at `/docs` and their files at /static."""
    web = Path(str(files("web")))
    page = (web / "index.html").read_text(encoding="utf-8")
    reference = (web / "docs.html").read_text(encoding="utf-8")

    def index() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    def docs() -> HTMLResponse:
        return HTMLResponse(
            reference, headers={**PAGE_HEADERS, "Content-Security-Policy": DOCS_POLICY}
        )

    app.add_api_route("/", index, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/docs", docs, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount("/static", _Revalidated(directory=web / "static"), name="static")
