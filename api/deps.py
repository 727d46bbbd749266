"""The stages the routes use, built once at start-up (models loaded then), and the
`Annotated` dependencies that hand them, and the caller's API key, to a route."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from answer import QuestionAnswerer
from answer.types import AnswerMode
from api import wiring
from api.auth import ApiKey, Keys, ScopeName, check_collection, load_keys_file, parse_keys
from api.jobs import JobRunner
from api.metrics import Metrics
from api.schemas import Filters
from api.settings import Settings
from index import (
    ConfigError,
    KnowledgeBase,
    Scope,
    SentenceTransformerEmbedder,
    SharedWriterLock,
    Store,
)
from ingest import Ingestor, Progress, StopRequest
from retrieve import Retriever

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    store: Store
    kb: KnowledgeBase
    embedder: SentenceTransformerEmbedder
    retriever: Retriever
    answers: QuestionAnswerer
    keys: Keys
    jobs: JobRunner
    metrics: Metrics
    writer: SharedWriterLock  # held while this process writes to the store

    @classmethod
    def build(cls, settings: Settings) -> Services:
        keys = Keys(configured_keys(settings))
        store = wiring.open_store(settings)
        kb = wiring.knowledge_base(settings, store)
        embedder = wiring.embedder(settings)
        retriever = wiring.retriever(settings, kb, embedder)
        metrics = Metrics(kb)

        def ingestor(progress: Progress, stop: StopRequest) -> Ingestor:
            return wiring.ingestor(settings, kb, embedder, progress, stop=stop)

        writer = SharedWriterLock(wiring.store_lock(settings))
        if settings.shared_store and settings.files_dir is None:
            log.warning(
                "uploaded originals are kept in %s on this machine only; servers sharing "
                "this PostgreSQL store need CITED_FILES_DIR set to one shared folder",
                settings.uploads_dir,
            )
        jobs = JobRunner(
            ingestor, writer, settings.uploads_dir, settings.staging_dir, metrics.ingested
        )
        metrics.track_jobs(jobs.queue_state)
        answers = wiring.question_answerer(settings, retriever)
        return cls(settings, store, kb, embedder, retriever, answers, keys, jobs, metrics, writer)

    def warm_up(self) -> None:
        """Load the models and the vector index now, not on the first request; start the
        ingestion worker."""
        self.embedder.embed_query("warm up")
        self.answers.warm_up()
        self.kb.vectors()
        self.jobs.start()

    def close(self) -> None:
        self.jobs.close()
        self.answers.close()
        self.store.close()


NO_LLM = (
    'generative answers need a language model server, and this one has none; send "mode": '
    '"extractive" (or leave "mode" out), or have the operator set CITED_LLM_BASE_URL and '
    "CITED_LLM_MODEL"
)


def check_mode(answers: QuestionAnswerer, mode: AnswerMode | None) -> None:
    """Refuse a generative answer on a server without a language model, in the API's terms
    (the answer stage's own message names the CLI's --mode)."""
    if (mode or answers.mode) == "generative" and answers.llm is None:
        raise ConfigError(NO_LLM)


def configured_keys(settings: Settings) -> list[ApiKey]:
    keys = []
    if settings.api_keys is not None:
        keys += parse_keys(settings.api_keys.get_secret_value())
    if settings.api_keys_file is not None:
        keys += load_keys_file(Path(settings.api_keys_file))
    return keys


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]

_bearer = HTTPBearer(auto_error=False, description="An API key, when the server requires one.")


def _caller(scope: ScopeName | None):  # type: ignore[no-untyped-def]
    def check(
        request: Request,
        # Declared for the OpenAPI schema (the /docs "Authorize" button); Keys.check reads
        # the header itself, so a non-Bearer scheme gets its own 401 message.
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> ApiKey | None:
        return _services(request).keys.check(request.headers.get("authorization"), scope)

    return check


Asker = Annotated[ApiKey | None, Depends(_caller("ask"))]
Reader = Annotated[ApiKey | None, Depends(_caller("read"))]
Ingester = Annotated[ApiKey | None, Depends(_caller("ingest"))]
Deleter = Annotated[ApiKey | None, Depends(_caller("delete"))]
Caller = Annotated[ApiKey | None, Depends(_caller(None))]  # any valid key, whatever its scopes


def request_scope(
    store: Store, collection: str | None, filters: Filters | None, key: ApiKey | None
) -> Scope:
    """Where to look: the request's collection and filters, within the key's collections.
    A collection that is not there is a 404 naming it, not an answer that the documents say
    nothing (a misspelt name would read as "no answer")."""
    filters = filters or Filters()
    if collection is not None:
        check_collection(key, collection)
        store.collection_id(collection)  # NotFoundError naming it
    return Scope(
        collection=collection,
        document_ids=tuple(filters.document_ids),
        source_prefix=filters.source_prefix or None,
        collections=key.collections if key is not None else None,
    )
