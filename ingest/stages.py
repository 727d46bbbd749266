"""Where an ingestion run parses, chunks and embeds: on this machine or on a Ray cluster.

    Ingestor (driver)                     Stages
    discover, hash  --files-->            parse (maybe chunk) -> Future[Parsed]
    read a result   --------->            chunked             -> Chunked | ParseFailure
    group chunks    --texts-->            embed               -> Future[Embedded]
    write (SQL, FAISS) <--vectors--

The driver keeps everything that touches the store: which files changed, the groups, the
per-document transactions. A `Stages` only turns bytes into chunks and texts into vectors,
so the local pipeline and the Ray one (ingest.cluster) write exactly the same way.

`LocalStages` parses and chunks in this machine's parser processes (ingest.workers) and
embeds in this process; its embedding future is already done when returned, so a local
run embeds and writes one group at a time, as before Ray existed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from index import DocumentEncoder
from ingest.chunking import Chunked, Chunking
from ingest.discover import Candidate
from ingest.parsing import ParsedFile
from ingest.workers import ParseFailure, ParseLimits, ParserPool

__all__ = ["Chunked", "Embedded", "LocalStages", "Parsed", "Stages"]


@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray  # one L2-normalised row per text, in the order given
    seconds: float


Parsed = ParsedFile | Chunked | ParseFailure  # chunked where it was parsed, or not yet


class Stages(Protocol):
    """Parse-and-chunk and embed for one run; a context manager (workers start and stop)."""

    embed_slots: int  # groups the driver may have embedding at once

    def __enter__(self) -> Stages: ...

    def __exit__(self, *exc: object) -> None: ...

    def dimension(self) -> int:
        """The embedding dimension (loads the model if needed: call it while parsing runs)."""
        ...

    def parse(self, files: Sequence[Candidate]) -> list[Future[Parsed]]:
        """Start parsing (and chunking, where that runs beside parsing) these files; a
        future per file, in order."""
        ...

    def chunked(self, result: Parsed) -> Chunked | ParseFailure:
        """A parse result chunked (here, if it was not already); called in the driver's
        thread."""
        ...

    def embed(self, texts: list[str]) -> Future[Embedded]: ...


class LocalStages:
    """Parser processes on this machine, which chunk what they parse; embedding in this
    process."""

    embed_slots = 1

    def __init__(
        self,
        embedder: DocumentEncoder,
        parse_workers: int,
        limits: ParseLimits,
        chunk_tokens: int,
        chunk_overlap: int,
        max_chunks: int | None = None,
    ) -> None:
        self.embedder = embedder
        self.parse_workers = parse_workers
        self.limits = limits
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.max_chunks = max_chunks
        self._pool: ParserPool | None = None
        self._chunking: Future[Chunking] = Future()

    def __enter__(self) -> LocalStages:
        self._chunking = Future()
        self._pool = ParserPool(self.parse_workers, self.limits, self._chunking)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def dimension(self) -> int:
        return self.embedder.dimension

    def parse(self, files: Sequence[Candidate]) -> list[Future[Parsed]]:
        if self._pool is None:
            raise RuntimeError("LocalStages used outside its `with` block")
        futures: list[Future[Parsed]] = [self._pool.submit(str(f.path), f.file_type) for f in files]
        if not self._chunking.done():  # the parsers start while the tokenizer loads
            self._chunking.set_result(
                Chunking(
                    self.embedder.tokenizer,
                    min(self.chunk_tokens, self.embedder.max_tokens),
                    self.chunk_overlap,
                    self.max_chunks,
                )
            )
        return futures

    def chunked(self, result: Parsed) -> Chunked | ParseFailure:
        if isinstance(result, ParsedFile):  # the parser processes chunk every file
            raise TypeError("a file came back from a parser process parsed but not chunked")
        return result

    def embed(self, texts: list[str]) -> Future[Embedded]:
        """Embeds now (a failure raises here), and returns the result as a done future."""
        started = time.perf_counter()
        vectors = self.embedder.embed_documents(texts)
        future: Future[Embedded] = Future()
        future.set_result(Embedded(vectors, time.perf_counter() - started))
        return future
