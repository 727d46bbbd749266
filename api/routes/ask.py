"""POST /v1/ask: a cited answer, whole (JSON) or streamed (server-sent events)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from answer import DeltaEvent, Event, FinalEvent, PassagesEvent
from answer.followup import Turn
from api.deps import Asker, ServicesDep
from api.metrics import Metrics
from api.routes.search import passage_out, scope
from api.schemas import AUTH_ERRORS, AskRequest, ErrorResponse, error
from index import CitedError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["ask"])

CONTRACT_EXAMPLE = {
    "question": "How many days of leave do new staff get?",
    "answer": "New staff get 25 days of paid leave a year [1].",
    "abstained": False,
    "reason": None,
    "sentences": [
        {
            "text": "New staff get 25 days of paid leave a year [1].",
            "citations": [1],
            "support": 0.91,
        }
    ],
    "citations": [
        {
            "n": 1,
            "document_id": "9f0c...",
            "chunk_id": 12,
            "title": "Staff handbook",
            "source": "/srv/hr/handbook.pdf",
            "page": 3,
            "start": 10234,
            "end": 10290,
            "quote": "New staff get 25 days of paid leave a year.",
        }
    ],
    "mode": "extractive",
    "model": "sentence-transformers/all-MiniLM-L6-v2",
    "timings_ms": {"retrieve": 9.1, "generate": 20.4, "verify": 0.4, "total": 30.2},
}


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _events(stream: Iterator[Event], metrics: Metrics) -> Iterator[bytes]:
    try:
        for event in stream:
            if isinstance(event, PassagesEvent):
                yield sse(
                    "passages", {"passages": [passage_out(p).model_dump() for p in event.passages]}
                )
            elif isinstance(event, DeltaEvent):
                yield sse("delta", {"text": event.text})
            elif isinstance(event, FinalEvent):
                metrics.answered(event.answer.mode, event.answer.abstained)
                yield sse("final", event.answer.to_dict())
    except CitedError as exc:
        yield sse("error", error(exc.code, exc.message))
    except Exception:  # the stream has started: the status is sent, report in-band
        log.exception("answer stream failed")
        yield sse("error", error("internal_error", "the server failed; the details are in its log"))


@router.post(
    "/ask",
    responses={
        200: {
            "description": "The answer contract, or with `stream` an event stream: `passages`, "
            "`delta` (text as generated), `final` (the verified answer contract), `error`.",
            "content": {
                "application/json": {"example": CONTRACT_EXAMPLE},
                "text/event-stream": {},
            },
        },
        400: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        502: {"model": ErrorResponse},
        504: {"model": ErrorResponse},
        **AUTH_ERRORS,
    },
)
def ask(body: AskRequest, request: Request, services: ServicesDep, key: Asker) -> Any:
    """Answer the question from the documents. Every sentence cites an exact quote
    (`document_text[start:end] == quote`) that was checked to support it; when the documents
    do not answer, `abstained` is true and `reason` says why. With `history`, a follow-up
    question is made standalone first."""
    where = scope(body.collection, body.filters, key)
    question = body.question
    if body.history:
        history = [Turn(turn.role, turn.content) for turn in body.history]
        question = services.answers.standalone(question, history, body.mode)
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        stream = services.answers.stream(question, mode=body.mode, top_k=body.top_k, scope=where)
        return StreamingResponse(
            _events(stream, services.metrics),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = services.answers.ask(question, mode=body.mode, top_k=body.top_k, scope=where)
    services.metrics.answered(answer.mode, answer.abstained)
    return answer.to_dict()
