"""Documents built by hand for the store and knowledge-base tests: one chunk a paragraph."""

from __future__ import annotations

from index import NewChunk, NewDocument


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
