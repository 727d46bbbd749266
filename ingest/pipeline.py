"""`cited ingest`: files -> hash check -> parse (worker processes) -> chunk -> embed -> write.

    main process:  discover, hash, chunk, embed (torch), write (SQL, then FAISS)
    workers:       parse with unstructured (CPU-bound, single-threaded per file)

Parsing of the next files runs while the main process embeds the previous ones. Unchanged
files (same content hash) are neither parsed nor embedded, and the embedding model is not
even loaded when nothing changed. Documents are written in groups, each group one
transaction, so after a crash every document is either its old or its new version.

One broken file never stops the batch: its outcome is "failed" with the reason, and the rest
go on. A parser process that dies (crash, out of memory) is replaced; the files it had in
hand are retried one at a time, so the file that kills a parser again is the one reported
as failed. Deliberately not done: the writer lock
(callers hold index.WriterLock) and parse timeouts.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from index import Embedder, KnowledgeBase, NewChunk, NewDocument
from index.errors import ConfigError, ParseError
from index.store import KnownDocument
from ingest import offline
from ingest.chunking import Chunker
from ingest.discover import Candidate, discover
from ingest.parsing import ParsedFile, parse_file
from ingest.progress import NoProgress, Progress
from ingest.report import FileOutcome, IngestReport

log = logging.getLogger(__name__)

HASH_BLOCK = 1 << 20
PARSE_AHEAD_FILES = 256
PARSE_AHEAD_BYTES = 256 * 2**20
PARTIAL_GROUP_WAIT_S = 0.25


@dataclass(frozen=True)
class ParseFailure:
    reason: str


@dataclass(frozen=True)
class _Ready:
    candidate: Candidate
    digest: str
    parsed: ParsedFile
    chunks: list[NewChunk]


def _init_worker() -> None:
    # One thread per parser: the main process needs the other cores for embedding.
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[key] = "1"
    # Parsers never use torch, but spaCy's thinc imports it when installed: 2.6 s and ~200 MB
    # per worker, on the critical path of every ingestion. Marking it absent makes thinc skip
    # it (every supported format parses without it; tests/ingest/test_pipeline.py).
    sys.modules.setdefault("torch", None)  # type: ignore[arg-type]
    # Parsers log every oddity of every file; the per-file outcome is what gets reported.
    for noisy in ("pypdf", "pdfminer", "unstructured"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    offline.prepare()


def _parse_in_worker(path: str, file_type: str) -> ParsedFile | ParseFailure:
    try:
        return parse_file(path, file_type)
    except ParseError as exc:
        return ParseFailure(exc.message)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def default_parse_workers() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


class Ingestor:
    def __init__(
        self,
        kb: KnowledgeBase,
        embedder: Embedder,
        *,
        chunk_tokens: int = 256,
        chunk_overlap: int = 32,
        max_file_bytes: int = 100 * 2**20,
        parse_workers: int | None = None,
        commit_chunks: int = 512,
        progress: Progress | None = None,
        save_every_s: float = 60.0,
    ) -> None:
        if max_file_bytes <= 0:
            raise ConfigError(f"CITED_MAX_FILE_MB must be positive, got {max_file_bytes / 2**20:g}")
        if commit_chunks < 1:
            raise ConfigError(f"CITED_COMMIT_CHUNKS must be at least 1, got {commit_chunks}")
        self.kb = kb
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.max_file_bytes = max_file_bytes
        self.parse_workers = parse_workers or default_parse_workers()
        self.commit_chunks = commit_chunks
        self.progress = progress or NoProgress()
        self.save_every_s = save_every_s
        self._last_save = time.monotonic()

    def run(self, paths: Sequence[Path], collection: str, prune: bool = False) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(collection)
        self.kb.check_model()
        discovery = discover(list(paths))
        for outcome in discovery.left_out:
            report.add(outcome)
        report.timings.discover = time.perf_counter() - started
        known = self.kb.store.known_documents(collection)
        try:
            self._candidates(discovery.candidates, collection, known, report)
            if prune:
                seen = {c.source for c in discovery.candidates} | {
                    o.source for o in discovery.left_out
                }
                self._prune(known, discovery.roots, seen, report)
        finally:
            self.kb.flush()
            self.progress.close()
        report.timings.wall = time.perf_counter() - started
        return report

    def run_files(self, candidates: Sequence[Candidate], collection: str) -> IngestReport:
        """Ingest files whose sources the caller chose (the API's uploads: staged at one
        path, known by their final one)."""
        started = time.perf_counter()
        report = IngestReport(collection)
        self.kb.check_model()
        try:
            known = self.kb.store.known_documents(collection)
            self._candidates(candidates, collection, known, report)
        finally:
            self.kb.flush()
            self.progress.close()
        report.timings.wall = time.perf_counter() - started
        return report

    def _candidates(
        self,
        candidates: Sequence[Candidate],
        collection: str,
        known: dict[str, KnownDocument],
        report: IngestReport,
    ) -> None:
        """Hash, skip the unchanged, ingest the rest."""
        todo: list[tuple[Candidate, str]] = []
        self.progress.start(len(candidates))
        hashing = time.perf_counter()
        for candidate in candidates:
            reason = self._refuse(candidate)
            if reason is None:
                try:
                    digest = file_digest(candidate.path)
                except OSError as exc:
                    reason = f"cannot read the file: {exc.strerror or exc}"
            if reason is not None:
                report.add(FileOutcome(candidate.source, "failed", reason))
                self.progress.update(1, 0)
                continue
            previous = known.get(candidate.source)
            if previous is not None and previous.content_hash == digest:
                report.add(FileOutcome(candidate.source, "unchanged", document_id=previous.id))
                self.progress.update(1, 0)
            else:
                todo.append((candidate, digest))
        report.timings.hash = time.perf_counter() - hashing
        if todo:
            self._ingest(todo, collection, report)

    def _refuse(self, candidate: Candidate) -> str | None:
        if candidate.size == 0:
            return "empty file (0 bytes)"
        if candidate.size > self.max_file_bytes:
            return (
                f"file is {candidate.size / 2**20:.1f} MB, over the limit of "
                f"{self.max_file_bytes / 2**20:g} MB (CITED_MAX_FILE_MB); raise the limit or split the file"
            )
        return None

    def _ingest(
        self, todo: list[tuple[Candidate, str]], collection: str, report: IngestReport
    ) -> None:
        context = multiprocessing.get_context("spawn")
        queue = deque((candidate, digest, 0) for candidate, digest in todo)
        pool = ProcessPoolExecutor(self.parse_workers, mp_context=context, initializer=_init_worker)
        in_flight: dict[Future[ParsedFile | ParseFailure], tuple[Candidate, str, int]] = {}
        pending: list[_Ready] = []

        def fill() -> None:
            """Parsing runs far ahead (bounded by files and bytes in hand), so that the
            parsers are done and idle while the main process embeds full groups."""
            in_hand = sum(c.size for c, _, _ in in_flight.values())
            while queue and len(in_flight) < PARSE_AHEAD_FILES:
                candidate, digest, attempt = queue[0]
                if in_flight and (attempt > 0 or in_hand + candidate.size > PARSE_AHEAD_BYTES):
                    return  # a file in hand when a parser died is retried alone
                queue.popleft()
                future = pool.submit(_parse_in_worker, str(candidate.path), candidate.file_type)
                in_flight[future] = (candidate, digest, attempt)
                in_hand += candidate.size
                if attempt > 0:
                    return

        try:
            fill()
            chunker = self._chunker()  # loads the model while the parser processes start
            while queue or in_flight:
                fill()
                # A partial group is embedded only when no parsed file arrives for a moment.
                done, _ = wait(
                    in_flight,
                    timeout=PARTIAL_GROUP_WAIT_S if pending else None,
                    return_when=FIRST_COMPLETED,
                )
                if not done:
                    self._write(pending, collection, report)
                    continue
                broken = False
                for future in done:
                    candidate, digest, attempt = in_flight.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken = True
                        if attempt == 0:
                            queue.appendleft((candidate, digest, 1))
                        else:
                            self._fail(
                                report,
                                candidate,
                                "the parser process died on this file (crash or out of memory)",
                            )
                        continue
                    if isinstance(result, ParseFailure):
                        self._fail(report, candidate, result.reason)
                        continue
                    report.timings.parse += result.seconds
                    chunking = time.perf_counter()
                    chunks = chunker.chunk(result.text, result.elements)
                    report.timings.chunk += time.perf_counter() - chunking
                    if not chunks:
                        self._fail(report, candidate, "no text found in the file")
                        continue
                    pending.append(_Ready(candidate, digest, result, chunks))
                    if sum(len(r.chunks) for r in pending) >= self.commit_chunks:
                        self._write(pending, collection, report)
                if broken:
                    for candidate, digest, attempt in in_flight.values():
                        queue.appendleft((candidate, digest, max(attempt, 1)))
                    in_flight.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    log.warning("a parser process died; starting a new one")
                    pool = ProcessPoolExecutor(
                        self.parse_workers, mp_context=context, initializer=_init_worker
                    )
            self._write(pending, collection, report)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _chunker(self) -> Chunker:
        chunker = Chunker(
            self.embedder.tokenizer,
            min(self.chunk_tokens, self.embedder.max_tokens),
            self.chunk_overlap,
        )
        self.kb.check_model(self.embedder.dimension)
        return chunker

    def _fail(self, report: IngestReport, candidate: Candidate, reason: str) -> None:
        log.warning("file failed source=%s reason=%s", candidate.source, reason)
        report.add(FileOutcome(candidate.source, "failed", reason))
        self.progress.update(1, 0)

    def _write(self, pending: list[_Ready], collection: str, report: IngestReport) -> None:
        """Embed and store the pending documents (one transaction), then clear the list."""
        if not pending:
            return
        batch: list[tuple[NewDocument, _Ready]] = []
        for ready in pending:
            try:
                document = NewDocument(
                    collection=collection,
                    source=ready.candidate.source,
                    title=ready.parsed.title,
                    content_hash=ready.digest,
                    file_type=ready.candidate.file_type,
                    size_bytes=ready.candidate.size,
                    text=ready.parsed.text,
                    chunks=tuple(ready.chunks),
                    metadata=ready.parsed.metadata,
                )
            except ValueError as exc:
                self._fail(report, ready.candidate, f"internal error while chunking: {exc}")
                continue
            batch.append((document, ready))
        pending.clear()
        if not batch:
            return
        texts = [chunk.text for document, _ in batch for chunk in document.chunks]
        embedding = time.perf_counter()
        vectors = self.embedder.embed_documents(texts)
        report.timings.embed += time.perf_counter() - embedding
        writing = time.perf_counter()
        rows = []
        offset = 0
        for document, _ in batch:
            rows.append((document, vectors[offset : offset + len(document.chunks)]))
            offset += len(document.chunks)
        results = self.kb.write(rows, vectors.shape[1])
        if time.monotonic() - self._last_save >= self.save_every_s:
            self.kb.flush()
            self._last_save = time.monotonic()
        report.timings.write += time.perf_counter() - writing
        for result, (document, ready) in zip(results, batch, strict=True):
            report.add(
                FileOutcome(
                    ready.candidate.source,
                    result.status,
                    document_id=result.document.id,
                    chunks=len(document.chunks),
                )
            )
            report.chunks_added += len(result.chunk_ids)
            report.chunks_removed += len(result.removed_chunk_ids)
            report.tokens_embedded += sum(c.n_tokens for c in document.chunks)
        self.progress.update(len(batch), len(texts))

    def _prune(
        self,
        known: dict[str, KnownDocument],
        roots: list[str],
        seen: set[str],
        report: IngestReport,
    ) -> None:
        """Remove documents under the given paths whose files are gone."""
        prefixes = [root.rstrip(os.sep) + os.sep for root in roots]
        gone = {
            source: entry
            for source, entry in known.items()
            if source not in seen and (source in roots or source.startswith(tuple(prefixes)))
        }
        if not gone:
            return
        ids = [entry.id for entry in gone.values()]
        removed = self.kb.delete(ids)
        report.chunks_removed += len(removed)
        for source in gone:
            report.add(FileOutcome(source, "removed", "file is gone (--prune)"))
