"""Settings -> the stages, with plain constructor arguments. The only place that reads Settings
on behalf of the stages."""

from __future__ import annotations

import json
from typing import Any

from answer import (
    ChatClient,
    ExtractiveAnswerer,
    PairScorer,
    QuestionAnswerer,
    SupportChecker,
    SupportJudge,
)
from answer.extractive import DEFAULT_THRESHOLD
from answer.models import BUNDLED, MANIFEST
from api.settings import Settings
from index import (
    ConfigError,
    DatabaseWriterLock,
    KnowledgeBase,
    SentenceTransformerEmbedder,
    Store,
    WriterLock,
    writer_lock,
)
from index.document_encoder import document_encoder as encoder_for
from index.embedder import DocumentEncoder
from index.vectors import HnswParams, IvfParams
from ingest import Ingestor, ParseLimits, Progress, StopRequest
from ingest.cluster import RayCluster, RayStages
from ingest.stages import Stages
from retrieve import CrossEncoderReranker, Retriever


def open_store(settings: Settings) -> Store:
    """The store, made if it is not there (for the commands that write: ingest, serve)."""
    return Store(settings.database, settings.database_read)


def existing_store(settings: Settings) -> Store:
    """The store, for the commands that only read it (or remove from it): refused when its
    SQLite file is not there, naming where it was looked for and how to point at the right
    one, instead of making an empty store (and data folder) that answers "no documents"."""
    path = settings.store_file
    if path is not None and not path.is_file():
        if settings.database_url is not None:
            where = f"{path} (CITED_DATABASE_URL) does not exist"
        elif not settings.data_dir.is_dir():
            where = f"the data folder {settings.data_dir} does not exist"
        else:
            where = f"the data folder {settings.data_dir} has no {path.name}"
        if "data_dir" not in settings.model_fields_set:
            where += " (CITED_DATA_DIR is unset: ./data of the working directory)"
        raise ConfigError(
            f"no cited store: {where}. Point CITED_DATA_DIR at the data folder that `cited "
            "ingest` wrote (export CITED_DATA_DIR=/path/to/data), or run `cited ingest PATH` "
            "to make a store there"
        )
    return open_store(settings)


def in_force(settings: Settings) -> dict[str, Any]:
    """Values the stages use where a setting is unset (for `cited config`)."""
    return {"abstain_threshold": abstain_threshold(settings.answer_model)}


def abstain_threshold(answer_model: str) -> float:
    """The abstention threshold extractive answers use when CITED_ABSTAIN_THRESHOLD is
    unset: the shipped answer model's calibrated one (its manifest), else the default for a
    model that brings none. Read without loading the model."""
    if answer_model == BUNDLED:
        try:
            entry = json.loads(MANIFEST.read_text(encoding="utf-8"))["answer"]
            return float(entry["threshold"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # loading the model says what is wrong with it
    return DEFAULT_THRESHOLD


def store_lock(settings: Settings) -> WriterLock | DatabaseWriterLock:
    """One writer at a time per store: a file lock in the data dir (SQLite), an advisory lock
    in the database (PostgreSQL, shared by every server and `cited ingest` using it)."""
    return writer_lock(settings.data_dir, settings.database)


def knowledge_base(settings: Settings, store: Store) -> KnowledgeBase:
    return KnowledgeBase(
        store,
        settings.vector_path,
        settings.index_model,
        vector_kind=settings.vector_index,
        hnsw_threshold=settings.hnsw_threshold,
        hnsw=HnswParams(ef_search=settings.hnsw_ef_search),
        ivf_threshold=settings.ivf_threshold,
        ivf=IvfParams(nprobe=settings.ivf_nprobe),
    )


def embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(
        settings.embedding_model,
        settings.device,
        settings.batch_size,
        settings.fast_path_dir,
    )


def document_encoder(settings: Settings, model: SentenceTransformerEmbedder) -> DocumentEncoder:
    """What ingestion and re-embedding embed chunks with (CITED_DOCUMENT_ENCODER)."""
    return encoder_for(settings.document_encoder, model, settings.model_dir)


def ingestor(
    settings: Settings,
    kb: KnowledgeBase,
    model: SentenceTransformerEmbedder,
    progress: Progress,
    cluster: RayCluster | None = None,
    stop: StopRequest | None = None,
) -> Ingestor:
    """Parsing and embedding on this machine, or on `cluster` (`cited ingest --ray`);
    `stop` ends a run early (a signal, a server shutting down)."""
    limits = ParseLimits(
        settings.parse_timeout_s,
        settings.parse_memory_mb * 2**20 if settings.parse_memory_mb else None,
        settings.file_timeout_s,
    )
    stages = None
    if cluster is not None:
        on_cluster = cluster

        def stages() -> Stages:
            return RayStages(
                on_cluster,
                settings.embedding_model,
                settings.batch_size,
                limits,
                settings.chunk_tokens,
                settings.chunk_overlap,
                settings.ray_embedders,
                settings.document_encoder,
                settings.max_chunks_per_file,
            )

    return Ingestor(
        kb,
        document_encoder(settings, model),
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
        max_file_bytes=settings.max_file_bytes,
        parse_workers=settings.parse_workers,
        parse_limits=limits,
        commit_chunks=settings.commit_chunks,
        progress=progress,
        stages=stages,
        max_chunks=settings.max_chunks_per_file,
        stop=stop,
    )


def retriever(
    settings: Settings, kb: KnowledgeBase, model: SentenceTransformerEmbedder
) -> Retriever:
    reranker = None
    if settings.rerank_model:
        reranker = CrossEncoderReranker(settings.rerank_model, settings.device, settings.batch_size)
    return Retriever(
        kb,
        model,
        mode=settings.search_mode,
        candidates=settings.candidates,
        rrf_k=settings.rrf_k,
        dense_weight=settings.dense_weight,
        lexical_weight=settings.lexical_weight,
        mmr_lambda=settings.mmr_lambda,
        reranker=reranker,
        rerank_candidates=settings.rerank_candidates,
    )


def chat_client(settings: Settings) -> ChatClient | None:
    """The language model client, or None when no server is configured."""
    if not settings.llm_base_url:
        return None
    if not settings.llm_model:
        raise ConfigError("CITED_LLM_BASE_URL is set but CITED_LLM_MODEL is not; name the model")
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return ChatClient(
        settings.llm_base_url,
        settings.llm_model,
        key,
        timeout=settings.llm_timeout,
        retries=settings.llm_retries,
        max_tokens=settings.llm_max_tokens,
    )


def support_judge(settings: Settings) -> SupportJudge | None:
    """The language-model judge of uncertain support (CITED_SUPPORT_JUDGE=llm), or None."""
    if settings.support_judge == "off":
        return None
    base_url = settings.support_judge_base_url or settings.llm_base_url
    model = settings.support_judge_model or settings.llm_model
    if not base_url or not model:
        raise ConfigError(
            "CITED_SUPPORT_JUDGE=llm needs a language model: set CITED_LLM_BASE_URL and "
            "CITED_LLM_MODEL (or CITED_SUPPORT_JUDGE_BASE_URL and CITED_SUPPORT_JUDGE_MODEL)"
        )
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    client = ChatClient(
        base_url, model, key, timeout=settings.support_judge_timeout, retries=0, max_tokens=256
    )
    return SupportJudge(client, settings.support_judge_low, settings.support_judge_high)


def question_answerer(settings: Settings, retrieval: Retriever) -> QuestionAnswerer:
    fast = settings.fast_path_dir
    return QuestionAnswerer(
        retrieval,
        SupportChecker(
            PairScorer("support", settings.support_model, fast_path_dir=fast),
            settings.support_threshold,
            judge=support_judge(settings),
        ),
        ExtractiveAnswerer(
            PairScorer("answer", settings.answer_model, fast_path_dir=fast),
            settings.abstain_threshold,
            settings.answer_sentences,
        ),
        chat_client(settings),
        mode=settings.answer_mode,
        top_k=settings.top_k,
        min_relevance=settings.min_relevance,
        retry_unverified=settings.llm_retry_unverified,
        max_sentences=settings.answer_sentences,
    )
