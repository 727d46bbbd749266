"""Request and response bodies of the HTTP API (pydantic lives only at this edge)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from answer.types import AnswerMode, ReasonCode
from api.auth import ScopeName
from api.jobs import FileStatus, JobStatus
from index.names import COLLECTION_NAME_PATTERN, MAX_COLLECTION_NAME
from retrieve import MAX_QUERY_CHARS, MAX_TOP_K, Mode, Passage


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Request models are strict (a string is not a number, 0 is not false), as their schema says;
# but JSON Schema counts 5.0 as an integer, so a whole float is one here too.
TopK = Annotated[int, Field(ge=1, le=MAX_TOP_K), BeforeValidator(_whole)]

NUL_FREE_PATTERN = "^[^\\u0000]*$"


def _refuse_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise PydanticCustomError(
            "nul_character", "NUL characters (U+0000) are not allowed; remove them"
        )
    return value


def _strings_nul_free(schema: JsonSchemaValue) -> JsonSchemaValue:
    if schema.get("type") == "string":
        schema.setdefault("pattern", NUL_FREE_PATTERN)
    for choice in schema.get("anyOf", []):
        _strings_nul_free(choice)
    return schema


class NulFree:
    """Refuses a string holding NUL (422 naming the field), and says so in the schema (a
    pattern on each string, unless it has a stricter one of its own). PostgreSQL cannot
    store or compare NUL in text (psycopg refuses it), so no request string that may
    reach SQL is let in with one; every store then answers such a request alike.

    Put it last in `Annotated[...]`, so that it checks before the other constraints and
    keeps their pattern; on a union, it checks the raw value once (no member in the
    error's location)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(_refuse_nul, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return _strings_nul_free(handler(schema))


NUL_FREE = NulFree()
NulFreeStr = Annotated[str, NUL_FREE]  # any request string that may reach SQL

# Holds a character that is neither white space nor NUL (NulFree keeps a pattern it finds).
NOT_BLANK_PATTERN = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def _refuse_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "is blank (white space only); write what to look for")
    return value


class NotBlank:
    """Refuses a string of white space only with 422 naming the field, as an empty one is
    refused (nothing can be searched or answered for it), and says so in the schema."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_refuse_blank, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        shown = handler(schema)
        shown["pattern"] = NOT_BLANK_PATTERN
        return shown


# A question or a search query: what retrieval reads.
QueryText = Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS), NotBlank(), NUL_FREE]

CollectionName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_COLLECTION_NAME, pattern=COLLECTION_NAME_PATTERN),
    NUL_FREE,
]


class Filters(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    document_ids: list[NulFreeStr] = Field(default_factory=list, max_length=1000)
    source_prefix: NulFreeStr | None = Field(None, max_length=4096)


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"query": "parental leave for new staff", "top_k": 5}]},
    )

    query: QueryText
    collection: CollectionName | None = None
    top_k: TopK | None = None
    mode: Mode | None = None
    filters: Filters | None = None


MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 20_000


class HistoryTurn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    role: Literal["user", "assistant"]
    content: NulFreeStr = Field(max_length=MAX_TURN_CHARS)


class AskRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"question": "How many days of leave do new staff get?"}]},
    )

    question: QueryText
    collection: CollectionName | None = None
    top_k: TopK | None = None
    mode: AnswerMode | None = None
    filters: Filters | None = None
    stream: bool = Field(False, description="Answer with server-sent events.")
    history: list[HistoryTurn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns of the conversation, oldest first. A follow-up that leans "
        'on them ("where did he train?") is made standalone before it is searched; the '
        "answer's `question` is the standalone question.",
    )


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

    @classmethod
    def of(cls, passage: Passage) -> PassageOut:
        return cls(**passage.to_dict())


CONTRACT_EXAMPLE: dict[str, Any] = {
    "question": "How many days of leave do new staff get?",
    "answer": "New staff get 25 days of paid leave a year [1].",
    "abstained": False,
    "reason": None,
    "reason_code": None,
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
    "model": "cited/answer-model",
    "timings_ms": {"retrieve": 9.1, "generate": 20.4, "verify": 0.4, "total": 30.2},
}


class CitationOut(BaseModel):
    n: int
    document_id: str
    chunk_id: int
    title: str
    source: str
    page: int | None
    start: int = Field(description="Offset in the document's text: text[start:end] == quote.")
    end: int
    quote: str


class SentenceOut(BaseModel):
    text: str
    citations: list[int]
    support: float = Field(
        description="The support model's probability that the cited quotes support the "
        "sentence (the lowest over its quotes; 1.0 for a verbatim quote)."
    )
    support_by: Literal["model", "judge", "verbatim"] = Field(
        description="What decided that the quotes support it: the support model, the "
        "language-model judge (CITED_SUPPORT_JUDGE=llm, for sentences the model was unsure "
        "of), or nothing needed (the sentence is its quote, verbatim)."
    )


class AnswerOut(BaseModel):
    """The answer contract (docs/answer-contract.md)."""

    model_config = ConfigDict(json_schema_extra={"examples": [CONTRACT_EXAMPLE]})

    question: str
    answer: str
    abstained: bool
    reason: str | None
    reason_code: ReasonCode | None = Field(
        description="When abstaining, why, for a client to put in its own words (`reason` "
        "has the details): `no_passages` (nothing was found), `unrelated` (what was found is "
        "not about the question), `not_answered` (related passages, none answers it), "
        "`unsupported` (none of a drafted answer's sentences held up against its quotes); "
        "null when answered."
    )
    sentences: list[SentenceOut]
    citations: list[CitationOut]
    mode: AnswerMode
    model: str
    timings_ms: dict[str, float]


class SearchResponse(BaseModel):
    passages: list[PassageOut]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def internal_error() -> dict[str, Any]:
    """What a client hears of an unexpected failure (the details go to the server log)."""
    return error("internal_error", "the server failed; the details are in its log")


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No API key, or not a valid one."},
    403: {"model": ErrorResponse, "description": "The key lacks the scope or the collection."},
}


class CallerOut(BaseModel):
    """What the caller's API key may do (GET /v1/me)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"keys": True, "name": "hr-bot", "scopes": ["ask"], "collections": ["hr"]}]
        }
    )

    keys: bool = Field(description="Whether this server requires API keys.")
    name: str | None = Field(
        description="The key's name (its `name` in CITED_API_KEYS_FILE, else `key <n>`, its "
        "place in CITED_API_KEYS); null without keys."
    )
    scopes: list[ScopeName] = Field(
        description="What it may do: `ask` (ask, search, chat completions), `read` (documents, "
        "collections, jobs, metrics), `ingest` (upload, create a collection), `delete`."
    )
    collections: list[str] | None = Field(
        description="The collections it may use, by name; null: every collection."
    )


class DocumentOut(BaseModel):
    id: str
    collection: str
    source: str
    title: str
    file_type: str
    size_bytes: int
    chunks: int
    characters: int
    created_at: str
    updated_at: str
    metadata: dict[str, Any]


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int
    limit: int
    offset: int


class DeletedOut(BaseModel):
    deleted: str
    documents: int
    chunks: int


class CollectionOut(BaseModel):
    name: str
    documents: int
    chunks: int
    created_at: str


class CollectionList(BaseModel):
    collections: list[CollectionOut]


class CollectionCreate(BaseModel):
    model_config = ConfigDict(
        strict=True, extra="forbid", json_schema_extra={"examples": [{"name": "hr"}]}
    )

    name: CollectionName


class JobFileOut(BaseModel):
    name: str
    size: int
    status: FileStatus
    reason: str | None
    document_id: str | None
    chunks: int


class JobProgress(BaseModel):
    files: int
    files_done: int
    chunks_added: int
    phase: str | None = Field(
        description="What the running ingestion does now (starting the parsers and the "
        "model; parsing, embedding and writing); null before and after."
    )
    files_parsed: int
    chunks_embedded: int


class JobOut(BaseModel):
    id: str
    collection: str
    status: JobStatus
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    progress: JobProgress
    files: list[JobFileOut]


class RunningJob(BaseModel):
    id: str
    collection: str
    status: Literal["running", "waiting"] = Field(
        description="`waiting`: for the writer lock, held by another process."
    )
    seconds: float = Field(description="Since it started.")
    files: int
    files_done: int


class QueuedJob(BaseModel):
    id: str
    collection: str
    seconds: float = Field(description="Since it was queued.")
    files: int


class JobQueue(BaseModel):
    """Jobs run one at a time, in the order they were queued."""

    stopping: bool = Field(description="The server is stopping: no job starts any more.")
    running: RunningJob | None
    queued: list[QueuedJob] = Field(description="Oldest first.")


class JobList(BaseModel):
    queue: JobQueue
    jobs: list[JobOut]
