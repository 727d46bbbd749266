"""Documents built by hand for the store and knowledge-base tests: one chunk a paragraph."""

from __future__ import annotations

import numpy as np

from index import NewChunk, NewDocument


def unit_vectors(rows: int, dimension: int, seed: int = 0) -> np.ndarray:
    """Random unit vectors (seeded), as stored embeddings are normalized."""
    matrix = np.random.default_rng(seed).normal(size=(rows, dimension)).astype(np.float32)
    normalized: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return normalized


def new_document(source: str, paragraphs: list[str], collection: str = "default") -> NewDocument:
    """A document of these paragraphs (joined by blank lines), each paragraph a chunk."""
    text = "\n\n".join(paragraphs)
    chunks, position = [], 0
    for paragraph in paragraphs:
        chunks.append(
            NewChunk(
                paragraph, position, position + len(paragraph), n_tokens=len(paragraph.split())
            )
        )
        position += len(paragraph) + 2
    return NewDocument(
        collection=collection,
        source=source,
        title=source.rsplit("/", 1)[-1],
        content_hash=str(hash(text)),
        file_type="text",
        size_bytes=len(text),
        text=text,
        chunks=tuple(chunks),
    )
