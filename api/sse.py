"""Server-sent events as cited sends them (POST /v1/ask and the OpenAI-compatible chat):
the framing of one event, the headers of a stream, and the in-band error that ends a
stream which has already begun (its 200 status is sent; the error travels as an event)."""

from __future__ import annotations

import json
import logging
from typing import Any

from api.schemas import error, internal_error
from index import CitedError

log = logging.getLogger(__name__)

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE = b"data: [DONE]\n\n"  # the OpenAI stream's end


def event(data: Any, name: str | None = None) -> bytes:
    """One event: `event: name` when named, and its data as one line of JSON."""
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def failure(exc: Exception, stream: str) -> dict[str, Any]:
    """The error body that ends a begun stream: a CitedError as itself, anything else as
    an internal error (its traceback to the log, naming the stream)."""
    if isinstance(exc, CitedError):
        return error(exc.code, exc.message)
    log.error("%s stream failed", stream, exc_info=exc)
    return internal_error()
