"""POST /v1/ask: a cited answer, whole (JSON) or streamed (server-sent events)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from answer import DeltaEvent, Event, FinalEvent, PassagesEvent
from answer.followup import Turn
from api import sse
from api.deps import Asker, ServicesDep, check_mode, request_scope
from api.metrics import Metrics
from api.schemas import AUTH_ERRORS, AnswerOut, AskRequest, ErrorResponse, PassageOut

router = APIRouter(prefix="/v1", tags=["ask"])


def _events(stream: Iterator[Event], metrics: Metrics) -> Iterator[bytes]:
    try:
        for event in stream:
            if isinstance(event, PassagesEvent):
                passages = [PassageOut.of(p).model_dump() for p in event.passages]
                yield sse.event({"passages": passages}, "passages")
            elif isinstance(event, DeltaEvent):
                yield sse.event({"text": event.text}, "delta")
            elif isinstance(event, FinalEvent):
                metrics.answered(event.answer.mode, event.answer.abstained)
                yield sse.event(event.answer.to_dict(), "final")
    except Exception as exc:  # noqa: BLE001 - the stream has begun: every failure is told in-band
        yield sse.event(sse.failure(exc, "answer"), "error")


@router.post(
    "/ask",
    responses={
        200: {
            "description": "The answer contract, or with `stream` an event stream: `passages`, "
            "`delta` (text as generated), `final` (the verified answer contract), `error`.",
            "model": AnswerOut,
            "content": {"text/event-stream": {}},
        },
        400: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
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
    where = request_scope(services.store, body.collection, body.filters, key)
    check_mode(services.answers, body.mode)
    question = body.question
    if body.history:
        history = [Turn(turn.role, turn.content) for turn in body.history]
        question = services.answers.standalone(question, history, body.mode, where)
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        stream = services.answers.stream(question, mode=body.mode, top_k=body.top_k, scope=where)
        return StreamingResponse(
            _events(stream, services.metrics),
            media_type="text/event-stream",
            headers=sse.HEADERS,
        )
    answer = services.answers.ask(question, mode=body.mode, top_k=body.top_k, scope=where)
    services.metrics.answered(answer.mode, answer.abstained)
    return answer.to_dict()
