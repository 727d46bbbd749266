"""What runs on a Ray cluster's workers for `cited ingest --ray` (ingest.cluster sends it).

    parse_batch    a Ray task: files' bytes -> parsed and chunked, each file under the deadline
    EmbedWorker    a Ray actor: the embedding model, loaded once, embeds one group per call

Nothing here imports Ray: the driver wraps these with `ray.remote`, and every node runs the
same cited install. Files travel as bytes, so the nodes need no shared disk; each is written
under its own name in a private temporary folder (a document's title falls back to its file
name) and removed after parsing.

The per-file deadline is a timer signal in the worker (parsers are Python: the signal stops
them between two steps), backed by a watchdog that ends the worker if a parser is stuck in C
code past a grace period: Ray then retries the batch, and the driver parses a batch that
failed twice file by file, so that only the culprit fails. Deliberately not done: the
per-parser address-space cap of local runs (CITED_PARSE_MEMORY_MB). A Ray worker maps the
object store into its address space, so the cap would break Ray itself; memory on a cluster
is Ray's memory monitor's to police (it stops the task using the most when a node runs
short, which the driver reports as that file's failure).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from index.document_encoder import DocumentEncoderKind, document_encoder
from index.embedder import SentenceTransformerEmbedder, Tokenizer
from index.errors import ParseError
from ingest import offline
from ingest.chunking import Chunked, Chunker, Chunking, chunk_parsed
from ingest.parsing import parse_file
from ingest.stages import Embedded
from ingest.workers import ParseFailure, ParseLimits, quiet_parsers

STUCK_GRACE_S = 30.0  # past its deadline, a parser stuck in C code takes its worker down
STUCK_EXIT = 75  # the worker's exit code then


@dataclass(frozen=True)
class FileBytes:
    name: str  # the file's own name: parsers and titles see it as on the driver
    file_type: str
    data: bytes


@dataclass(frozen=True)
class ModelFacts:
    model_name: str  # what the store will record as the vectors' model
    dimension: int
    max_tokens: int
    tokenizer: Tokenizer
    version: str  # cited's version on the node: every node must run the driver's


class _Expired(BaseException):
    """The deadline passed. A BaseException, so that parsers' `except Exception` lets it by."""


def _expire(signum: int, frame: object) -> None:
    raise _Expired


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise _Expired in this (main) thread after `seconds`; end the process if that does
    not stop the work within STUCK_GRACE_S."""
    watchdog = threading.Timer(seconds + STUCK_GRACE_S, os._exit, (STUCK_EXIT,))
    watchdog.daemon = True
    watchdog.start()
    timed = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGALRM, _expire) if timed else None
    if timed:
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        watchdog.cancel()


def parse_batch(
    files: list[FileBytes], chunking: Chunking, limits: ParseLimits
) -> list[Chunked | ParseFailure]:
    """Parse and chunk each file (a Ray task); one result per file, in order."""
    quiet_parsers()
    offline.prepare()
    chunker = chunking.chunker()
    results: list[Chunked | ParseFailure] = []
    with tempfile.TemporaryDirectory(prefix="cited-ray-") as folder:
        for i, file in enumerate(files):
            path = Path(folder) / str(i) / file.name
            path.parent.mkdir()
            path.write_bytes(file.data)
            results.append(_parse_one(path, file.file_type, chunker, limits))
            path.unlink()
    return results


def _parse_one(
    path: Path, file_type: str, chunker: Chunker, limits: ParseLimits
) -> Chunked | ParseFailure:
    """Parse under the parse deadline, then chunk in what is left of the file's."""
    began = time.monotonic()
    stage = "parse"
    try:
        with deadline(limits.parse_deadline()):
            parsed = parse_file(str(path), file_type)
        stage = "chunk"
        with deadline(max(0.001, limits.file_timeout_s - (time.monotonic() - began))):
            return chunk_parsed(chunker, parsed)
    except ParseError as exc:
        return ParseFailure(exc.message)
    except _Expired:
        if stage == "parse":
            return ParseFailure(limits.parse_timeout_reason())
        return ParseFailure(limits.file_timeout_reason("while it was chunked"))
    except MemoryError:
        return ParseFailure(limits.memory_reason())


class EmbedWorker:
    """The embedding model on one node (a Ray actor): loaded once, at start, so that a
    model that cannot load fails the run before any file is parsed. `kind` is the
    document encoder (index.document_encoder); its ONNX exports are cached on the node."""

    def __init__(
        self,
        model_name: str,
        device: str,
        batch_size: int,
        threads: int,
        kind: DocumentEncoderKind,
    ) -> None:
        offline.set_environment()
        if threads:
            import torch

            torch.set_num_threads(threads)
        embedder = SentenceTransformerEmbedder(model_name, device, batch_size)
        encoder_kind: DocumentEncoderKind = kind if device == "cpu" else "torch"  # ONNX: CPU
        cache = Path(tempfile.gettempdir()) / "cited-models"
        self.encoder = document_encoder(encoder_kind, embedder, cache, threads)
        self.encoder.dimension  # noqa: B018 - loads it

    def facts(self) -> ModelFacts:
        return ModelFacts(
            self.encoder.model_name,
            self.encoder.dimension,
            self.encoder.max_tokens,
            self.encoder.tokenizer,
            metadata.version("cited"),
        )

    def embed(self, texts: list[str]) -> Embedded:
        started = time.perf_counter()
        vectors = self.encoder.embed_documents(texts)
        return Embedded(vectors, time.perf_counter() - started)
