"""`cited ingest --ray [ADDRESS]`: parsing and embedding on a Ray cluster, writing here.

    driver (this process)                         Ray cluster
    discover, hash, read bytes  --batch of files-->  parse_batch task: parse + chunk
    group chunks                --texts--------->  EmbedWorker actor (model loaded once)
    write: per-group transaction, FAISS  <--chunks, vectors--

`auto` starts a private local cluster for the run (`--ray-cpus` caps its CPUs) and stops it
after; an address (whatever `ray.init` takes: `ray://head:10001` from anywhere,
`head:6379` from a node) joins an existing cluster, whose nodes must run the same cited
install (checked: an embedding actor on another version stops the run). Files travel as
bytes, so the nodes need no shared disk.

Placement: with GPUs, one embedding actor per GPU (more actors than GPUs share them); without,
one per two CPUs, each with one CPU and one torch thread (when the actors would leave no CPU
for parsing, they hold none and share). Parsing tasks take the
CPUs left. Every group of chunks goes to the actor with the fewest groups in hand; at most
two groups per actor are in flight, so each has the next one queued.

Failures: Ray retries a parse task whose worker died (once), and restarts a dead embedding
actor and re-sends its call (once). A batch that fails twice is parsed again file by file,
so that only the file to blame fails, with Ray's reason. Every document is written by the
driver in its group's transaction, so a driver killed with -9 leaves each document old or
new, and the next run (same content hashes) finishes the job.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from index.document_encoder import DocumentEncoderKind, index_model_name
from index.errors import ConfigError
from ingest.chunking import Chunking
from ingest.discover import Candidate
from ingest.parsing import ParsedFile
from ingest.remote import EmbedWorker, FileBytes, ModelFacts, parse_batch
from ingest.stages import Chunked, Embedded, Parsed
from ingest.workers import ParseFailure, ParseLimits

log = logging.getLogger(__name__)

AUTO = "auto"
BATCH_FILES = 16  # files per parse task, at most
BATCH_BYTES = 8 * 2**20  # bytes per parse task, at most (one bigger file goes alone)
PARSE_RETRIES = 1  # Ray's retries of a parse task whose worker died
ACTOR_RESTARTS = 1  # restarts of an embedding actor, each re-sending the call it died in
GROUPS_PER_ACTOR = 2
CONNECT_S = 5.0  # to reach a cluster's address
INSTALL_HINT = (
    "`cited ingest --ray` needs Ray, an optional extra: pip install 'cited[ray]' "
    "(on this machine and every node of the cluster)"
)


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"{INSTALL_HINT} ({exc})") from None
    return ray


def reachable(address: str, timeout_s: float = CONNECT_S) -> None:
    """OSError unless something listens at a `host:port` or `ray://host:port` address."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("expected host:port or ray://host:port")
    with socket.create_connection((host, int(port)), timeout=timeout_s):
        pass


class RayCluster:
    """A connection to Ray for one run: `with RayCluster(address) as cluster:`. Joins the
    caller's own `ray.init()` if there is one (and leaves it running)."""

    def __init__(self, address: str = AUTO, cpus: int | None = None) -> None:
        if not address:
            raise ConfigError("--ray needs `auto` or a cluster address, got an empty string")
        if cpus is not None and cpus < 1:
            raise ConfigError(f"--ray-cpus must be at least 1, got {cpus}")
        if cpus is not None and address != AUTO:
            raise ConfigError("--ray-cpus sizes the local cluster of `--ray auto` only")
        self.address = address
        self.cpus = cpus
        self.ray = import_ray()
        self._owned = False

    def __enter__(self) -> RayCluster:
        ray = self.ray
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "logging_level": logging.WARNING,
                "log_to_driver": False,  # workers' parser chatter; outcomes are reported
                "include_dashboard": False,
            }
            try:
                if self.address == AUTO:
                    ray.init(address="local", num_cpus=self.cpus, **options)
                else:
                    reachable(self.address)  # Ray itself retries an unreachable one for minutes
                    ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
                raise ConfigError(
                    f"cannot reach the Ray cluster at {self.address!r}: {exc}; start it "
                    "(`ray start --head`), or pass `--ray auto` for a local one. A cluster "
                    "that checks tokens needs RAY_AUTH_MODE=token here and its token "
                    "(RAY_AUTH_TOKEN, or ~/.ray/auth_token from `ray get-auth-token`)"
                ) from None
            self._owned = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._owned:
            self.ray.shutdown()
            self._owned = False

    def resources(self) -> tuple[int, int]:
        """(CPUs, GPUs) of the whole cluster."""
        total = self.ray.cluster_resources()
        return int(total.get("CPU", 0)), int(total.get("GPU", 0))


@dataclass(frozen=True)
class Placement:
    """How many embedding actors, what each holds, and the CPUs left for parsing."""

    embedders: int
    gpus_each: float
    cpus_each: float
    parse_slots: int

    @classmethod
    def plan(cls, cpus: int, gpus: int, embedders: int = 0) -> Placement:
        if embedders < 0:
            raise ConfigError(f"--ray-embedders must be 0 (automatic) or more, got {embedders}")
        count = embedders or gpus or max(1, cpus // 2)
        gpus_each = min(1.0, gpus / count)
        cpus_each = 1.0 if cpus > count else 0.0
        return cls(count, gpus_each, cpus_each, max(1, cpus - int(cpus_each * count)))


@dataclass
class _Batch:
    files: list[FileBytes]
    futures: list[Future[Parsed]]


class RayStages:
    """`Stages` (ingest.stages) on a Ray cluster; see the module docstring."""

    def __init__(
        self,
        cluster: RayCluster,
        model_name: str,
        batch_size: int,
        limits: ParseLimits,
        chunk_tokens: int,
        chunk_overlap: int,
        embedders: int = 0,
        document_encoder: DocumentEncoderKind = "torch",
        max_chunks: int | None = None,
    ) -> None:
        self.cluster = cluster
        self.max_chunks = max_chunks
        self.model_name = model_name
        self.batch_size = batch_size
        self.limits = limits
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.placement = Placement.plan(*cluster.resources(), embedders)
        if document_encoder == "int8" and self.placement.gpus_each > 0:
            raise ConfigError(
                "the int8 document encoder runs on CPUs, and this Ray cluster's embedding "
                "actors get GPUs; set CITED_DOCUMENT_ENCODER=torch for them (its vectors are "
                "another model's for the store: `cited reindex --reembed`)"
            )
        self.document_encoder = document_encoder
        self.model_identity = index_model_name(model_name, document_encoder)
        self.embed_slots = GROUPS_PER_ACTOR * self.placement.embedders
        self._ray = cluster.ray
        self._actors: list[Any] = []
        self._in_hand: list[int] = []  # actor index -> groups sent, not yet back
        self._facts: ModelFacts | None = None
        self._chunking: Any = None  # ObjectRef of the Chunking every task reads
        self._task: Any = None
        self._running: set[Any] = set()  # ObjectRefs of parse tasks not yet settled
        self._lock = threading.Lock()
        self._closing = False

    def __enter__(self) -> RayStages:
        ray, placement = self._ray, self.placement
        actor = ray.remote(EmbedWorker).options(
            num_cpus=placement.cpus_each,
            num_gpus=placement.gpus_each,
            max_restarts=ACTOR_RESTARTS,
            max_task_retries=ACTOR_RESTARTS,
            scheduling_strategy="SPREAD",
        )
        device = "cuda" if placement.gpus_each > 0 else "cpu"
        threads = 0 if placement.gpus_each else 1
        self._actors = [
            actor.remote(self.model_name, device, self.batch_size, threads, self.document_encoder)
            for _ in range(placement.embedders)
        ]
        self._in_hand = [0] * len(self._actors)
        self._task = ray.remote(parse_batch).options(num_cpus=1, max_retries=PARSE_RETRIES)
        log.info(
            "ray ingestion embedders=%d gpus_each=%d parse_slots=%d",
            placement.embedders,
            placement.gpus_each,
            placement.parse_slots,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._closing = True
            running = list(self._running)
        for ref in running:
            self._ray.cancel(ref, force=True)
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []

    def dimension(self) -> int:
        return self._model().dimension

    def _model(self) -> ModelFacts:
        """The model's facts from the first actor (waits for it to load), checked against
        this install, and the chunking settings put in the object store once."""
        if self._facts is None:
            try:
                facts: ModelFacts = self._ray.get(self._actors[0].facts.remote())
            except self._ray.exceptions.RayError as exc:
                raise ConfigError(
                    f"the embedding actor could not start on the Ray cluster: {_first_line(exc)}"
                ) from None
            ours = metadata.version("cited")
            if facts.version != ours:
                raise ConfigError(
                    f"the Ray cluster runs cited {facts.version}, this machine {ours}; "
                    "install the same version on every node"
                )
            if facts.model_name != self.model_identity:  # an int8 model it could not run
                raise ConfigError(
                    f"the Ray cluster embeds with {facts.model_name!r}, not the configured "
                    f"{self.model_identity!r}"
                )
            chunking = Chunking(
                facts.tokenizer,
                min(self.chunk_tokens, facts.max_tokens),
                self.chunk_overlap,
                self.max_chunks,
            )
            self._chunking = self._ray.put(chunking)
            self._facts = facts
        return self._facts

    def parse(self, files: Sequence[Candidate]) -> list[Future[Parsed]]:
        self._model()
        futures: list[Future[Parsed]] = [Future() for _ in files]
        per_task = max(1, min(BATCH_FILES, math.ceil(len(files) / self.placement.parse_slots)))
        batch = _Batch([], [])
        size = 0
        for candidate, future in zip(files, futures, strict=True):
            try:
                data = candidate.path.read_bytes()
            except OSError as exc:
                future.set_result(ParseFailure(f"cannot read the file: {exc.strerror or exc}"))
                continue
            if batch.files and (len(batch.files) >= per_task or size + len(data) > BATCH_BYTES):
                self._send(batch)
                batch, size = _Batch([], []), 0
            batch.files.append(FileBytes(candidate.path.name, candidate.file_type, data))
            batch.futures.append(future)
            size += len(data)
        if batch.files:
            self._send(batch)
        return futures

    def chunked(self, result: Parsed) -> Chunked | ParseFailure:
        if isinstance(result, ParsedFile):  # parse_batch chunks every file it parses
            raise TypeError("a file came back from the Ray cluster parsed but not chunked")
        return result

    def _send(self, batch: _Batch) -> None:
        with self._lock:
            if self._closing:
                for future in batch.futures:
                    future.set_result(ParseFailure("ingestion stopped"))
                return
            ref = self._task.remote(batch.files, self._chunking, self.limits)
            self._running.add(ref)
        ref.future().add_done_callback(lambda done: self._settle(ref, batch, done))

    def _settle(self, ref: Any, batch: _Batch, done: Future[Any]) -> None:
        """Deliver a task's results; a batch that failed (after Ray's retries) is parsed
        again one file per task, and a single file that failed gets Ray's reason."""
        with self._lock:
            self._running.discard(ref)
        try:
            results = done.result()
        except self._ray.exceptions.RayError as exc:
            if len(batch.files) > 1:
                log.warning(
                    "parse task failed, parsing its %d files one by one: %s",
                    len(batch.files),
                    _first_line(exc),
                )
                for file, future in zip(batch.files, batch.futures, strict=True):
                    self._send(_Batch([file], [future]))
                return
            batch.futures[0].set_result(ParseFailure(self._failure(exc)))
            return
        for future, result in zip(batch.futures, results, strict=True):
            future.set_result(result)

    def _failure(self, exc: Exception) -> str:
        errors = self._ray.exceptions
        if isinstance(exc, errors.OutOfMemoryError):
            return (
                "the Ray node ran out of memory parsing this file (Ray's memory monitor "
                "stopped it); split the file or give the nodes more memory"
            )
        if isinstance(exc, errors.TaskCancelledError):
            return "ingestion stopped"
        if isinstance(exc, errors.RayTaskError):
            return f"internal error while parsing on the Ray cluster: {_first_line(exc)}"
        return (
            f"the Ray worker parsing this file died twice ({type(exc).__name__}): a parser "
            f"crash, or a parser stuck past the {self.limits.parse_deadline():g} s deadline "
            "(CITED_PARSE_TIMEOUT_S, CITED_FILE_TIMEOUT_S)"
        )

    def embed(self, texts: list[str]) -> Future[Embedded]:
        with self._lock:
            index = min(range(len(self._actors)), key=self._in_hand.__getitem__)
            self._in_hand[index] += 1
        future: Future[Embedded] = Future()

        def settle(done: Future[Any]) -> None:
            with self._lock:
                self._in_hand[index] -= 1
            try:
                future.set_result(done.result())
            except self._ray.exceptions.RayError as exc:
                future.set_exception(
                    RuntimeError(
                        f"embedding on the Ray cluster failed twice: {_first_line(exc)}; "
                        "what was written is kept, and the next run finishes the job"
                    )
                )

        self._actors[index].embed.remote(texts).future().add_done_callback(settle)
        return future


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
