"""Settings -> the stages, with plain constructor arguments. The only place that reads Settings
on behalf of the stages."""

from __future__ import annotations

from api.settings import Settings
from index import KnowledgeBase, SentenceTransformerEmbedder, Store
from ingest import Ingestor, Progress


def open_store(settings: Settings) -> Store:
    return Store(settings.database)


def knowledge_base(settings: Settings, store: Store) -> KnowledgeBase:
    return KnowledgeBase(store, settings.vector_path, settings.embedding_model)


def embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(
        settings.embedding_model, settings.device, settings.batch_size
    )


def ingestor(
    settings: Settings, kb: KnowledgeBase, model: SentenceTransformerEmbedder, progress: Progress
) -> Ingestor:
    return Ingestor(
        kb,
        model,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
        max_file_bytes=settings.max_file_bytes,
        parse_workers=settings.parse_workers,
        commit_chunks=settings.commit_chunks,
        progress=progress,
    )
