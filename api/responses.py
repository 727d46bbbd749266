"""Error answers sent from plain ASGI middleware, in the one shape every error has
(`{"error": {"code", "message"}}`, built by api.schemas.error)."""

from __future__ import annotations

import json

from starlette.types import Send

from api.schemas import error


async def send_error(send: Send, status: int, code: str, message: str, close: bool = False) -> None:
    """Answer with an error before the app has seen the request."""
    body = json.dumps(error(code, message)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
