"""Request and response bodies of the HTTP API (pydantic lives only at this edge)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retrieve import MAX_QUERY_CHARS, MAX_TOP_K


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_ids: list[str] = Field(default_factory=list, max_length=1000)
    source_prefix: str | None = Field(None, max_length=4096)


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"query": "parental leave for new staff", "top_k": 5}]},
    )

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    collection: str | None = Field(None, min_length=1, max_length=200)
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K)
    mode: Literal["dense", "lexical", "hybrid"] | None = None
    filters: Filters | None = None


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "How many days of leave do new staff get?"}]},
    )

    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    collection: str | None = Field(None, min_length=1, max_length=200)
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K)
    mode: Literal["extractive", "generative"] | None = None
    filters: Filters | None = None
    stream: bool = Field(False, description="Answer with server-sent events.")


class PassageOut(BaseModel):
    score: float
    similarity: float
    chunk_id: int
    document_id: str
    collection: str
    title: str
    source: str
    page: int | None
    section: str | None
    start: int
    end: int
    text: str


class SearchResponse(BaseModel):
    passages: list[PassageOut]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
