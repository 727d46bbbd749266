"""A small corpus of a test's own, ingested by the real pipeline into SQLite + FAISS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index import KnowledgeBase, SentenceTransformerEmbedder, Store
from ingest import Ingestor


@contextmanager
def ingested(
    top: Path, documents: dict[str, str], embedder: SentenceTransformerEmbedder
) -> Iterator[KnowledgeBase]:
    """`documents` (file name -> text) written under `top` and ingested; closed after."""
    folder = top / "corpus"
    folder.mkdir(parents=True)
    for name, text in documents.items():
        (folder / name).write_text(text, encoding="utf-8")
    store = Store(f"sqlite:///{top / 'cited.db'}")
    try:
        kb = KnowledgeBase(store, top / "vectors.faiss", embedder.model_name)
        report = Ingestor(kb, embedder, parse_workers=1).run([folder], "default")
        assert not report.failed, report.failed
        yield kb
    finally:
        store.close()
