"""`cited ingest`: files -> hash check -> parse (worker processes) -> chunk -> embed -> write.

    main process:  discover, hash, embed (ONNX, index.document_encoder), write (SQL, then FAISS)
    workers:       parse with unstructured, then chunk (CPU-bound, single-threaded per file)

With `--ray`, parsing and chunking run as Ray tasks and embedding in Ray actors
(ingest.cluster); the main process still discovers, hashes and writes, the same way
(ingest.stages draws the line).

Parsing of the next files runs while the main process embeds the previous ones. Unchanged
files (same content hash) are neither parsed nor embedded, and the embedding model is not
even loaded when nothing changed. Documents are written in groups, each group one
transaction, so after a crash every document is either its old or its new version.

One broken file never stops the batch: its outcome is "failed" with the reason, and the rest
go on. Each file is parsed and chunked under a deadline and a memory cap (ingest.workers),
so a file that hangs or bloats its parser fails with the limit it passed, and a parser that
dies takes only its own file down. The whole cost of a file is bounded: at most
CITED_MAX_CHUNKS_PER_FILE chunks (ingest.chunking), and CITED_FILE_TIMEOUT_S of its own
time: its parse and chunking, then each slice of `EMBED_SLICE` texts that holds some of its
chunks (time spent waiting for other files is not its own). A file past it fails with the
setting named before its next slice, and the batch goes on. On Ray, slices are embedded
asynchronously, so only the parse and chunk time is checked there; the chunk cap bounds
the rest.

A `StopRequest` (a signal, a server shutting down) stops a run at its next safe point:
between two slices of embedding, two writes, two files hashed. What was written stays (each
group is one transaction, finished or rolled back); every file not yet written is reported
`interrupted` with the request's reason, and running the same ingestion again finishes the
job (unchanged files are skipped). Deliberately not done: the writer lock (callers hold
index.WriterLock).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index import DocumentEncoder, KnowledgeBase, KnownDocument, NewChunk, NewDocument, WriteResult
from index.errors import ConfigError, RejectedError
from ingest.discover import Candidate, discover
from ingest.parsing import ParsedFile
from ingest.progress import NoProgress, Progress
from ingest.report import FileOutcome, IngestReport
from ingest.sniff import content_problem
from ingest.stages import Embedded, LocalStages, Parsed, Stages
from ingest.workers import ParseFailure, ParseLimits

log = logging.getLogger(__name__)

HASH_BLOCK = 1 << 20
PARSE_AHEAD_FILES = 256
PARSE_AHEAD_BYTES = 256 * 2**20
PARTIAL_GROUP_WAIT_S = 0.25
# Texts embedded between two checks of the file deadlines and of a stop: ~2 s here
# (all-MiniLM-L6-v2, 2 cores), so a stop is heard within that.
EMBED_SLICE = 64
STOP_POLL_S = 0.2  # how often a run waiting for parsers looks for a stop


class StopRequest:
    """Asks running ingestions to stop at their next safe point. `stop()` may be called
    from another thread or a signal handler (it only sets a flag and an event nobody
    waits on in the thread it interrupts)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def stop(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


class _Stopped(Exception):
    """Raised inside a run at a safe point once a stop was requested."""


@dataclass(frozen=True)
class _Ready:
    candidate: Candidate
    digest: str
    parsed: ParsedFile
    chunks: list[NewChunk]
    seconds: float  # of its own time spent so far: parsing and chunking


@dataclass
class _Group:
    """Documents embedded together and written in one transaction: `slices` of their
    chunk texts (the texts' indexes, the future of their vectors), and `dropped` the
    documents that failed on the way (past their deadline), by index in `batch`."""

    batch: list[tuple[NewDocument, _Ready]]
    slices: list[tuple[list[int], Future[Embedded]]]
    dropped: set[int]
    unreported: int = 0  # texts embedded but not yet shown in the progress

    def done(self) -> bool:
        return all(future.done() for _, future in self.slices)


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
        embedder: DocumentEncoder,
        *,
        chunk_tokens: int = 256,
        chunk_overlap: int = 32,
        max_file_bytes: int = 100 * 2**20,
        parse_workers: int | None = None,
        parse_limits: ParseLimits | None = None,
        commit_chunks: int = 512,
        progress: Progress | None = None,
        save_every_s: float = 60.0,
        stages: Callable[[], Stages] | None = None,
        max_chunks: int | None = 2000,
        stop: StopRequest | None = None,
    ) -> None:
        """`stages`: where to parse and embed (ingest.stages); None: on this machine, with
        `embedder` and `parse_workers` parser processes. `max_chunks`: per file (None: no
        cap). `stop`: asks a run to stop (see the module docstring)."""
        if max_chunks is not None and max_chunks < 1:
            raise ConfigError(f"CITED_MAX_CHUNKS_PER_FILE must be at least 1, got {max_chunks}")
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
        self.parse_limits = parse_limits or ParseLimits()
        self.commit_chunks = commit_chunks
        self.progress = progress or NoProgress()
        self.save_every_s = save_every_s
        self.stages = stages
        self.max_chunks = max_chunks
        self.stop = stop or StopRequest()
        self._last_save = time.monotonic()

    def run(
        self, paths: Sequence[Path], collection: str, prune: bool = False, reparse: bool = False
    ) -> IngestReport:
        """`reparse`: parse, chunk and embed unchanged files too (after an upgrade that
        reads some format better); each replaces its stored version as a changed file does."""
        started = time.perf_counter()
        report = IngestReport(collection)
        self.kb.check_model()
        discovery = discover(list(paths))
        for outcome in discovery.left_out:
            report.add(outcome)
        report.timings.discover = time.perf_counter() - started
        known = self.kb.known_documents(collection)
        try:
            self._candidates(discovery.candidates, collection, known, report, reparse)
            if prune and report.interrupted is None:
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
            known = self.kb.known_documents(collection)
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
        reparse: bool = False,
    ) -> None:
        """Hash, skip the unchanged (unless `reparse`), ingest the rest; on a stop, every
        file without an outcome yet is `interrupted`."""
        with contextlib.suppress(_Stopped):  # a stop: the outcomes below
            self._hash_and_ingest(candidates, collection, known, report, reparse)
        if not self.stop.requested():
            return
        report.interrupted = self.stop.reason
        ended = {o.source for o in report.outcomes}
        for candidate in candidates:
            if candidate.source not in ended:
                report.add(FileOutcome(candidate.source, "interrupted", self._interrupted()))

    def _interrupted(self) -> str:
        return f"{self.stop.reason} before this file was stored"

    def _hash_and_ingest(
        self,
        candidates: Sequence[Candidate],
        collection: str,
        known: dict[str, KnownDocument],
        report: IngestReport,
        reparse: bool,
    ) -> None:
        todo: list[tuple[Candidate, str]] = []
        self.progress.start(len(candidates))
        hashing = time.perf_counter()
        for candidate in candidates:
            if self.stop.requested():
                raise _Stopped
            reason = self._refuse(candidate)
            if reason is None:
                try:
                    digest = file_digest(candidate.path)
                except OSError as exc:
                    reason = f"cannot read the file: {exc.strerror or exc}"
            if reason is not None:
                self._outcome(report, FileOutcome(candidate.source, "failed", reason))
                continue
            previous = known.get(candidate.source)
            if not reparse and previous is not None and previous.content_hash == digest:
                self._outcome(
                    report, FileOutcome(candidate.source, "unchanged", document_id=previous.id)
                )
            else:
                todo.append((candidate, digest))
        report.timings.hash = time.perf_counter() - hashing
        if todo:
            self.progress.phase("starting the parsers and the model", files=len(todo))
            self._ingest(todo, collection, report)

    def _refuse(self, candidate: Candidate) -> str | None:
        if candidate.size == 0:
            return "empty file (0 bytes)"
        if candidate.size > self.max_file_bytes:
            return (
                f"file is {candidate.size / 2**20:.1f} MB, over the limit of "
                f"{self.max_file_bytes / 2**20:g} MB (CITED_MAX_FILE_MB); raise the limit or split the file"
            )
        try:
            return content_problem(candidate.path, candidate.path.name)
        except OSError as exc:
            return f"cannot read the file: {exc.strerror or exc}"

    def _ingest(
        self, todo: list[tuple[Candidate, str]], collection: str, report: IngestReport
    ) -> None:
        queue = deque(todo)
        parsing: dict[Future[Parsed], tuple[Candidate, str]] = {}
        pending: list[_Ready] = []  # parsed and chunked, waiting to be grouped
        embedding: deque[_Group] = deque()  # groups being embedded, oldest first

        def fill() -> None:
            """Parsing runs far ahead (bounded by files and bytes in hand), so that the
            parsers are done and idle while the embedder works on full groups."""
            in_hand = sum(c.size for c, _ in parsing.values())
            batch: list[tuple[Candidate, str]] = []
            while queue and len(parsing) + len(batch) < PARSE_AHEAD_FILES:
                candidate, _ = queue[0]
                if (parsing or batch) and in_hand + candidate.size > PARSE_AHEAD_BYTES:
                    break
                batch.append(queue.popleft())
                in_hand += candidate.size
            if batch:
                futures = stages.parse([candidate for candidate, _ in batch])
                parsing.update(zip(futures, batch, strict=True))

        def group() -> None:
            """Send the pending documents to be embedded (waiting for a free slot first)."""
            while len(embedding) >= stages.embed_slots:
                self._write(embedding.popleft(), collection, report)
            if (started := self._group(pending, collection, report, stages)) is not None:
                embedding.append(started)

        starting = time.perf_counter()
        with self._stages() as stages:
            try:
                fill()
                self.kb.check_model(stages.dimension())  # loads the model while parsing starts
                report.timings.start = time.perf_counter() - starting
                self.progress.phase("parsing, embedding and writing")
                last_arrival = time.monotonic()
                while queue or parsing or pending or embedding:
                    if self.stop.requested():
                        raise _Stopped
                    fill()
                    while embedding and embedding[0].done():
                        self._write(embedding.popleft(), collection, report)
                    if not parsing:
                        group()
                        if embedding:
                            self._write(embedding.popleft(), collection, report)
                        continue
                    # A partial group is embedded only when no parsed file arrives for a moment.
                    waited = time.monotonic() - last_arrival
                    waiting: list[Future[Any]] = [*parsing]
                    if embedding:  # groups are written in order
                        waiting += [future for _, future in embedding[0].slices]
                    timeout = STOP_POLL_S
                    if pending:
                        timeout = min(timeout, max(0.0, PARTIAL_GROUP_WAIT_S - waited))
                    done, _ = wait(waiting, timeout=timeout, return_when=FIRST_COMPLETED)
                    arrived = [future for future in done if future in parsing]
                    if arrived:
                        last_arrival = time.monotonic()
                    elif pending and time.monotonic() - last_arrival >= PARTIAL_GROUP_WAIT_S:
                        group()
                    for future in arrived:
                        candidate, digest = parsing.pop(future)
                        result = stages.chunked(future.result())
                        chunks = 0 if isinstance(result, ParseFailure) else len(result.chunks)
                        self.progress.advance(parsed=1, chunks=chunks)
                        if isinstance(result, ParseFailure):
                            self._fail(report, candidate, result.reason)
                            continue
                        report.timings.parse += result.parsed.seconds
                        report.timings.chunk += result.chunk_seconds
                        if not result.chunks:
                            self._fail(report, candidate, "no text found in the file")
                            continue
                        spent = result.parsed.seconds + result.chunk_seconds
                        pending.append(
                            _Ready(candidate, digest, result.parsed, result.chunks, spent)
                        )
                        if sum(len(r.chunks) for r in pending) >= self.commit_chunks:
                            group()
            except _Stopped:
                # What is embedded already is written (one transaction each, quick); the
                # rest is left to the caller to report as interrupted.
                while embedding and embedding[0].done():
                    self._write(embedding.popleft(), collection, report)
                raise

    def _stages(self) -> Stages:
        if self.stages is not None:
            return self.stages()
        return LocalStages(
            self.embedder,
            self.parse_workers,
            self.parse_limits,
            self.chunk_tokens,
            self.chunk_overlap,
            self.max_chunks,
        )

    def _outcome(self, report: IngestReport, outcome: FileOutcome) -> None:
        report.add(outcome)
        self.progress.update(outcome)

    def _fail(self, report: IngestReport, candidate: Candidate, reason: str) -> None:
        log.warning("file failed source=%s reason=%s", candidate.source, reason)
        self._outcome(report, FileOutcome(candidate.source, "failed", reason))

    def _group(
        self, pending: list[_Ready], collection: str, report: IngestReport, stages: Stages
    ) -> _Group | None:
        """Start embedding the pending documents as one group, and clear the list."""
        if not pending:
            return None
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
            return None
        return self._embed(_Group(batch, [], set()), report, stages)

    def _embed(self, group: _Group, report: IngestReport, stages: Stages) -> _Group | None:
        """Embed a group's texts slice by slice; before each, a stop ends the run and a
        document past its time fails (its later slices are not embedded)."""
        texts: list[str] = []
        owners: list[int] = []  # text index -> document index in the batch
        spent: list[float] = []  # document index -> its own seconds so far
        for index, (document, ready) in enumerate(group.batch):
            texts += [chunk.text for chunk in document.chunks]
            owners += [index] * len(document.chunks)
            spent.append(ready.seconds)
        limit = self.parse_limits.file_timeout_s
        for begin in range(0, len(texts), EMBED_SLICE):
            if self.stop.requested():
                raise _Stopped
            span = range(begin, min(begin + EMBED_SLICE, len(texts)))
            owned = sorted({owners[i] for i in span} - group.dropped)
            for index in owned:
                document, ready = group.batch[index]
                if spent[index] >= limit:
                    group.dropped.add(index)
                    stage = f"while its {len(document.chunks):,} chunks were embedded"
                    reason = self.parse_limits.file_timeout_reason(stage)
                    self._fail(report, ready.candidate, reason)
            rows = [i for i in span if owners[i] not in group.dropped]
            if not rows:
                continue
            future = stages.embed([texts[i] for i in rows])
            group.slices.append((rows, future))
            if future.done() and future.exception() is None:  # here: its time is known
                self.progress.advance(embedded=len(rows), seconds=future.result().seconds)
                for index in owned:
                    spent[index] += future.result().seconds
            else:
                group.unreported += len(rows)
        if len(group.dropped) == len(group.batch):
            return None
        return group

    def _write(self, group: _Group, collection: str, report: IngestReport) -> None:
        """Store an embedded group (one transaction; waits for its vectors)."""
        parts = [(rows, future.result()) for rows, future in group.slices]
        if group.unreported:  # embedded elsewhere (Ray): shown once back
            self.progress.advance(embedded=group.unreported)
        report.timings.embed += sum(embedded.seconds for _, embedded in parts)
        dimension = parts[0][1].vectors.shape[1]
        vectors = np.zeros((sum(len(d.chunks) for d, _ in group.batch), dimension), np.float32)
        for rows, embedded in parts:
            vectors[rows] = embedded.vectors
        writing = time.perf_counter()
        rows_out = []
        kept = []
        offset = 0
        for index, (document, ready) in enumerate(group.batch):
            if index not in group.dropped:
                rows_out.append((document, vectors[offset : offset + len(document.chunks)]))
                kept.append((document, ready))
            offset += len(document.chunks)
        results = self._store(rows_out, dimension)
        if time.monotonic() - self._last_save >= self.save_every_s:
            self.kb.flush()
            self._last_save = time.monotonic()
        report.timings.write += time.perf_counter() - writing
        for result, (document, ready) in zip(results, kept, strict=True):
            if isinstance(result, str):
                self._fail(report, ready.candidate, result)
                continue
            report.chunks_added += len(result.chunk_ids)
            report.chunks_removed += len(result.removed_chunk_ids)
            report.tokens_embedded += sum(c.n_tokens for c in document.chunks)
            self._outcome(
                report,
                FileOutcome(
                    ready.candidate.source,
                    result.status,
                    document_id=result.document.id,
                    chunks=len(document.chunks),
                ),
            )

    def _store(
        self, rows: list[tuple[NewDocument, np.ndarray]], dimension: int
    ) -> list[WriteResult | str]:
        """Write the documents in one transaction; when the database refuses one, write
        each alone, so that only the refused one fails (its reason in place of a result)."""
        try:
            return list(self.kb.write(rows, dimension))
        except RejectedError as exc:
            if len(rows) == 1:
                return [exc.message]
        return [outcome for row in rows for outcome in self._store([row], dimension)]

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
