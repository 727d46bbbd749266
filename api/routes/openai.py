"""OpenAI-compatible endpoints, so existing chat clients can use cited as a backend.

`model` is a collection name, or "cited" for every collection the key may use. The last
user message is the question; earlier turns make a follow-up standalone (answer.followup).
The reply's content is the verified answer with its [n] markers, and the message gains a
`citations` array (the answer contract's); the whole contract is under `cited`.

Streaming sends only verified text: the answer is drafted and verified first, then its
sentences go out as `chat.completion.chunk`s, the last delta carrying `citations`. (A
draft streamed token by token could hold sentences that verification then removes, and an
OpenAI client cannot take text back.) Sampling parameters (temperature, max_tokens, ...)
are accepted and ignored: the answer is made from the documents, not sampled.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from answer import Answer, Turn
from api import sse
from api.auth import ApiKey
from api.deps import Asker, ServicesDep, request_scope
from api.schemas import AUTH_ERRORS, NUL_FREE, ErrorResponse, NulFreeStr
from index.errors import InvalidRequest, ModelNotFound
from retrieve import MAX_QUERY_CHARS

router = APIRouter(prefix="/v1", tags=["openai"])

ALL = "cited"
MAX_MESSAGES = 200


class TextPart(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    type: Literal["text"]
    text: NulFreeStr = Field(max_length=MAX_QUERY_CHARS * 4)


class ChatMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[
        Annotated[str, Field(max_length=100_000)] | list[TextPart] | None, NUL_FREE
    ] = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": "cited",
                    "messages": [{"role": "user", "content": "How many days of leave?"}],
                }
            ]
        },
    )

    model: NulFreeStr = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: dict[str, Any] | None = None


def _collection(model: str, services: ServicesDep, key: ApiKey | None) -> str | None:
    if model == ALL:
        return None
    if model not in services.store.collections() or (key is not None and not key.allows(model)):
        raise ModelNotFound(
            f"no model {model!r}: use {ALL!r} or a collection name (GET /v1/models lists them)"
        )
    return model


def _question(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise InvalidRequest("the last message must be the user's question, and not empty")
    question = turns[-1].text().strip()
    if len(question) > MAX_QUERY_CHARS:
        raise InvalidRequest(
            f"the question is {len(question)} characters; at most {MAX_QUERY_CHARS}"
        )
    history = [Turn(m.role, m.text()) for m in turns[:-1]]  # type: ignore[arg-type]
    return question, history


def _usage(question: str, answer: Answer) -> dict[str, int]:
    """Word counts, not tokens: no tokenizer of the caller's model is known here."""
    prompt, completion = len(question.split()), len(answer.answer.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@router.post(
    "/chat/completions",
    responses={
        200: {
            "description": "A chat.completion, or with `stream` chat.completion.chunk events.",
            "content": {"application/json": {}, "text/event-stream": {}},
        },
        400: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        502: {"model": ErrorResponse},
        504: {"model": ErrorResponse},
        **AUTH_ERRORS,
    },
)
def chat_completions(body: ChatRequest, services: ServicesDep, key: Asker) -> Any:
    """OpenAI-compatible chat: the last user message answered from the documents, every
    sentence cited (`[n]` markers in the content, `citations` on the message)."""
    collection = _collection(body.model, services, key)
    question, history = _question(body.messages)
    where = request_scope(services.store, collection, None, key)
    answers = services.answers
    completion_id = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))

        def run() -> Answer:
            standalone = answers.standalone(question, history, scope=where)
            return answers.ask(standalone, scope=where)

        return StreamingResponse(
            _chunks(run, body.model, completion_id, created, question, include_usage, services),
            media_type="text/event-stream",
            headers=sse.HEADERS,
        )
    answer = answers.ask(answers.standalone(question, history, scope=where), scope=where)
    services.metrics.answered(answer.mode, answer.abstained)
    contract = answer.to_dict()
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": answer.answer,
                    "citations": contract["citations"],
                },
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(question, answer),
        "cited": contract,
    }


def _chunks(
    run: Any,
    model: str,
    completion_id: str,
    created: int,
    question: str,
    include_usage: bool,
    services: ServicesDep,
) -> Iterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return sse.event(body)

    yield chunk({"role": "assistant", "content": ""})
    try:
        answer: Answer = run()
    except Exception as exc:  # noqa: BLE001 - the stream has begun: every failure is told in-band
        yield sse.event(sse.failure(exc, "chat completion"))
        return
    services.metrics.answered(answer.mode, answer.abstained)
    pieces = [s.text for s in answer.sentences] or [answer.answer]
    for n, piece in enumerate(pieces):
        yield chunk({"content": piece if n == 0 else " " + piece})
    contract = answer.to_dict()
    yield chunk({"citations": contract["citations"]}, "stop", cited=contract)
    if include_usage:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": _usage(question, answer),
        }
        yield sse.event(body)
    yield sse.DONE


@router.get("/models", responses=AUTH_ERRORS)
def models(services: ServicesDep, key: Asker) -> dict[str, Any]:
    """The models chat completions accept: "cited" (every collection) and each collection."""
    names = [ALL] + [c for c in services.store.collections() if key is None or key.allows(c)]
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "cited"} for n in names],
    }
