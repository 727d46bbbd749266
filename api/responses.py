"""Error answers sent from plain ASGI middleware, in the one shape every error has
(`{"error": {"code", "message"}}`, built by api.schemas.error)."""

from __future__ import annotations

import json

from starlette.types import Send

from api.schemas import error
from index.errors import CitedError


async def send_error(send: Send, failure: CitedError, close: bool = False) -> None:
    """Answer with an error before the app has seen the request."""
    status = failure.status
    body = json.dumps(error(failure.code, failure.message)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
