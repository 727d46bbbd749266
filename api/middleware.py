"""ASGI middleware of the app: request body limits, and request metrics.

Both are plain ASGI (not BaseHTTPMiddleware), so streamed responses pass through untouched
and the latency of an answer stream is measured to its last byte.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import Carried
from api.metrics import Metrics
from api.responses import send_error
from index.errors import TooLarge


def too_large(limit: int) -> TooLarge:
    return TooLarge(f"the request body is over the limit of {_size(limit)}")


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n / 2**10:g} KB"


class BodyLimit:
    """Refuse bodies over a limit with 413: at once when Content-Length says so, else as
    soon as the streamed body passes it (so a chunked upload cannot fill the disk)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int]) -> None:
        self.app = app
        self.limit_for = limit_for  # (method, path) -> bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise Carried(too_large(limit))
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, limit: int) -> None:
    await send_error(send, too_large(limit), close=True)


def route_label(scope: Scope, root_path: str) -> str:
    """What a request is counted under: its route's template (`/v1/documents/{document_id}`,
    not the raw path: ids would explode the label set); for a mounted app, such as the page's
    files, the mount path (`/static`), which a mount adds to the scope's `root_path` (ASGI);
    "unmatched" when neither took it (a 404 for a path nothing serves)."""
    template = getattr(scope.get("route"), "path", None)
    if template:
        return str(template)
    mounted = str(scope.get("root_path", ""))
    if mounted != root_path and mounted.startswith(root_path):
        return mounted[len(root_path) :]
    return "unmatched"


class RequestMetrics:
    """Count every request by its route (`route_label`), status and time to the last
    byte."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = str(scope.get("root_path", ""))  # before a mount extends it
        status = 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = route_label(scope, root_path)
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
