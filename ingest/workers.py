"""Parser processes: each file parsed in a worker process with a deadline and a memory cap,
and the workers' lives tied to the process that started them.

    main process (pool thread)                 worker process (one file at a time)
    queue of files -> free worker  --task-->   parse_file(path, type) under RLIMIT_AS
                                  <--parsed--  (then, given a Chunking, chunk it there)
    result or death or deadline   <--result--  ParsedFile | Chunked | ParseFailure

A worker parses (and chunks) one file at a time, so a file that hangs, crashes its parser or
eats its memory is known exactly: it fails with a reason naming the limit and its setting,
and only that worker is replaced. Chunking runs here too, under the same cap and deadline: a
quick parse can still give a text of millions of tokens, and its chunking (and the chunk
cap, CITED_MAX_CHUNKS_PER_FILE) are then this process's time and memory, not the server's.

Deadlines are wall-clock from the moment a ready worker takes the file (a new worker first
says it is ready: starting and importing the parsers, slow on a loaded machine, is not the
file's time; it has its own limit): parsing has CITED_PARSE_TIMEOUT_S, and the whole file
CITED_FILE_TIMEOUT_S, of which the driver spends what is left on embedding
(ingest.pipeline). They are enforced from this
process (SIGKILL), so a parser stuck in C code (a regular expression, lxml) cannot outlive it. The memory cap is the address-space limit of the
worker (RLIMIT_AS): an allocation past it fails inside the worker, which reports it and
exits, or dies, and either way the file fails with the setting to raise.

Workers die with their parent: on Linux the kernel kills them when the pool's thread (and
so the process) ends, even by `kill -9` (PR_SET_PDEATHSIG); elsewhere an idle worker exits
when its pipe closes. `close()` kills and joins them all. Each worker leads a process group
of its own, and is killed with it: a parser's own child (pandoc, for EPUB) goes with it
instead of running on, orphaned, after its file failed. Deliberately not done: retrying a
file that hit a limit (the same bytes would hit it again).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from index.errors import ParseError
from ingest import offline
from ingest.chunking import Chunked, Chunking, chunk_parsed
from ingest.parsing import ParsedFile, parse_file

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_MEMORY_EXIT = 3  # a worker that ran out of memory exits with this after reporting it
_JOIN_S = 5.0
_MEMORY_FAILURE = "memory"  # prefix of a worker's failure that happened at its memory cap
_READY = "ready"  # a new worker's first message: imports done, limits set
_PARSED = "parsed"  # parsing is done, chunking begins: the file's deadline is its whole one
_STARTUP_S = 300.0  # longest a worker may take to get ready


@dataclass(frozen=True)
class ParseFailure:
    reason: str


@dataclass(frozen=True)
class ParseLimits:
    """Per file: wall-clock seconds to parse it, and for all of it (parse, chunk, embed),
    and the worker's address space in bytes (None: no cap)."""

    timeout_s: float = 120.0
    memory_bytes: int | None = 4096 * 2**20
    file_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"the parse deadline must be positive, got {self.timeout_s}")
        if self.file_timeout_s <= 0:
            raise ValueError(f"the file deadline must be positive, got {self.file_timeout_s}")
        if self.memory_bytes is not None and self.memory_bytes < 256 * 2**20:
            raise ValueError(
                f"the parser memory cap must be at least 256 MB, got {self.memory_bytes / 2**20:g}"
            )

    def timeout_reason(self) -> str:
        return (
            f"parsing took longer than the limit of {self.timeout_s:g} s per file "
            "(CITED_PARSE_TIMEOUT_S); the file is too large or too convoluted for the parser: "
            "split or simplify it, or raise the limit"
        )

    def file_timeout_reason(self, stage: str) -> str:
        """The reason of a file past its whole deadline, in `stage` (what it was doing)."""
        return (
            f"the file took longer than the limit of {self.file_timeout_s:g} s per file "
            f"(CITED_FILE_TIMEOUT_S), {stage}; split or simplify it, or raise the limit"
        )

    def parse_deadline(self) -> float:
        """Seconds a file may spend being parsed: the shorter of its two deadlines."""
        return min(self.timeout_s, self.file_timeout_s)

    def parse_timeout_reason(self) -> str:
        if self.timeout_s <= self.file_timeout_s:
            return self.timeout_reason()
        return self.file_timeout_reason("while it was parsed")

    def death_reason(self, exit_code: int | None) -> str:
        how = f"exit code {exit_code}"
        if exit_code is not None and exit_code < 0:
            with contextlib.suppress(ValueError):
                how = signal.Signals(-exit_code).name
        if self.memory_bytes is None:
            return f"the parser process died on this file ({how}): a parser crash"
        return (
            f"the parser process died on this file ({how}): a parser crash, or more memory "
            f"needed than the limit of {self.memory_bytes / 2**20:g} MB per parser "
            "(CITED_PARSE_MEMORY_MB)"
        )

    def memory_reason(self) -> str:
        cap = "its memory" if self.memory_bytes is None else f"{self.memory_bytes / 2**20:g} MB"
        return (
            f"parsing needed more memory than the limit of {cap} per parser "
            "(CITED_PARSE_MEMORY_MB); split the file or raise the limit"
        )


ParseResult = ParsedFile | Chunked | ParseFailure


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent went before prctl took effect
        os._exit(0)


def _limit_memory(memory_bytes: int | None) -> None:
    if memory_bytes is None:
        return
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _peak_address_space() -> int:
    """VmPeak of this process in bytes (Linux), else 0."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def quiet_parsers() -> None:
    """Parsers log every oddity of every file; the per-file outcome is what gets reported."""
    for noisy in ("pypdf", "pdfminer", "unstructured"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _prepare_worker() -> None:
    # One thread per parser: the main process needs the other cores for embedding.
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[key] = "1"
    # Parsers never use torch, but spaCy's thinc imports it when installed: 2.6 s and ~200 MB
    # per worker, on the critical path of every ingestion. Marking it absent makes thinc skip
    # it (every supported format parses without it; tests/ingest/test_pipeline.py).
    sys.modules.setdefault("torch", None)  # type: ignore[arg-type]
    quiet_parsers()
    offline.prepare()


def _serve(conn: Connection, parent: int, memory_bytes: int | None) -> None:
    """A worker's life: take a file, send back its parse (chunked, once it was sent a
    Chunking), until the pipe closes."""
    _die_with_parent(parent)
    os.setpgid(0, 0)  # a group of its own: killed with whatever its parsers start
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _prepare_worker()
    _limit_memory(memory_bytes)  # after the imports: the cap is for parsing
    conn.send(_READY)
    chunker = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if isinstance(message, Chunking):
            chunker = message.chunker()
            continue
        path, file_type = message
        result: ParseResult
        try:
            result = parse_file(path, file_type)
            if chunker is not None:
                conn.send(_PARSED)
                result = chunk_parsed(chunker, result)
        except ParseError as exc:
            # Parsers in C report a failed allocation as whatever they were doing (lxml: "XML
            # syntax error"): a failure at the cap is the cap's.
            near_cap = memory_bytes is not None and _peak_address_space() >= 0.9 * memory_bytes
            result = ParseFailure(f"{_MEMORY_FAILURE}: {exc.message}" if near_cap else exc.message)
        except MemoryError:
            conn.send(None)  # None = out of memory; this process is not to be trusted now
            os._exit(_MEMORY_EXIT)
        conn.send(result)


def _claim(future: Future[ParseResult]) -> bool:
    """Mark a waiting future running (once); False when its caller cancelled it."""
    return future.running() or future.set_running_or_notify_cancel()


@dataclass
class _Task:
    path: str
    file_type: str
    future: Future[ParseResult]


class _Worker:
    def __init__(self, context: multiprocessing.context.SpawnContext, limits: ParseLimits):
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve,
            args=(child, os.getpid(), limits.memory_bytes),
            name="cited-parser",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.limits = limits
        self.task: _Task | None = None
        self.ready = False
        self.parsed = False  # the file in hand is parsed and being chunked
        self.began = time.monotonic()  # when the file's time began, or the worker's start
        self.chunks = False  # it was sent the pool's Chunking
        self.stopped = False

    def give(self, task: _Task, chunking: Chunking | None) -> None:
        """Send the file (after the chunking, the first time); its time runs from now, or
        from when a new worker is ready."""
        if chunking is not None and not self.chunks:
            self.conn.send(chunking)
            self.chunks = True
        self.task = task
        self.parsed = False
        if self.ready:
            self.began = time.monotonic()
        self.conn.send((task.path, task.file_type))

    @property
    def deadline(self) -> float:
        if not self.ready:
            return self.began + _STARTUP_S
        if self.parsed:
            return self.began + self.limits.file_timeout_s
        return self.began + self.limits.parse_deadline()

    def stop(self) -> None:
        """Kill the process and its group, and reap it (idempotent)."""
        pid = self.process.pid
        if pid is not None and not self.stopped:
            # Its group outlives it while a child of its parsers is in it (so the id cannot
            # have been taken by another group), and is gone, ESRCH, once they all are.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # its parsers' children too
        self.stopped = True
        if self.process.is_alive():  # not yet in a group of its own
            self.process.kill()
        self.process.join(_JOIN_S)
        self.conn.close()


class ParserPool:
    """`submit()` a file, get a future of its parse (never an exception: failures are
    ParseFailure). Workers start lazily, up to `workers`, and are replaced when one dies or
    is killed at its deadline.

    `chunking`: every file is chunked where it is parsed. It may be a future, set once the
    caller has its tokenizer: workers start (and import the parsers) meanwhile, and get
    files once it is set."""

    def __init__(
        self,
        workers: int,
        limits: ParseLimits | None = None,
        chunking: Chunking | Future[Chunking] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"need at least one parser process, got {workers}")
        self.size = workers
        self.limits = limits or ParseLimits()
        self._chunking = chunking
        self._context = multiprocessing.get_context("spawn")
        self._tasks: deque[_Task] = deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = self._context.Pipe(duplex=False)
        self._closing = False
        # Started here and spawning every worker: PR_SET_PDEATHSIG fires when the thread
        # that started a worker ends, which must be the pool's end, not some caller's.
        self._thread = threading.Thread(target=self._run, name="cited-parser-pool", daemon=True)
        self._thread.start()
        if isinstance(chunking, Future):
            chunking.add_done_callback(lambda _: self._wake())

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, path: str, file_type: str) -> Future[ParseResult]:
        future: Future[ParseResult] = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("the parser pool is closed")
            self._tasks.append(_Task(path, file_type, future))
        self._wake()
        return future

    def close(self) -> None:
        """Cancel what waits, kill the workers, join them and the pool thread."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._wake()
        self._thread.join()
        self._wake_r.close()
        self._wake_w.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._wake_w.send_bytes(b"!")

    def _chunking_now(self) -> tuple[bool, Chunking | None]:
        """(whether files may be given out, the Chunking to send with them)."""
        chunking = self._chunking
        if not isinstance(chunking, Future):
            return True, chunking
        if not chunking.done():
            return False, None
        return True, chunking.result()

    def _run(self) -> None:
        workers: list[_Worker] = []
        failure = "ingestion stopped"
        try:
            while True:
                with self._lock:
                    if self._closing:
                        break
                    may_give, chunking = self._chunking_now()
                    while len(workers) < min(self.size, len(self._tasks)) and not may_give:
                        workers.append(_Worker(self._context, self.limits))  # importing
                    idle = [w for w in workers if w.task is None]
                    while may_give and self._tasks and (idle or len(workers) < self.size):
                        task = self._tasks.popleft()
                        if not _claim(task.future):
                            continue
                        if not idle:
                            worker = _Worker(self._context, self.limits)
                            workers.append(worker)
                            idle.append(worker)
                        worker = idle.pop()
                        try:
                            worker.give(task, chunking)
                        except OSError:  # it died while idle: the file goes to another
                            self._tasks.appendleft(task)
                            worker.stop()
                            workers.remove(worker)
                busy = [w for w in workers if w.task is not None]
                now = time.monotonic()
                timeout = min((w.deadline - now for w in busy), default=None)
                waits: list[Connection | int] = [self._wake_r]
                for w in busy:
                    waits += [w.conn, w.process.sentinel]
                ready = wait(waits, None if timeout is None else max(timeout, 0.0))
                if self._wake_r in ready:
                    while self._wake_r.poll():
                        self._wake_r.recv_bytes()
                for worker in busy:
                    if not self._settle(worker, ready):
                        worker.stop()
                        workers.remove(worker)
        except OSError as exc:  # no process could be started: every file waiting fails with it
            log.exception("the parser pool failed")
            failure = f"no parser process could be started: {exc}"
        finally:
            with self._lock:
                self._closing = True  # a later submit() raises instead of waiting forever
            for worker in workers:
                if worker.task is not None:
                    worker.task.future.set_result(ParseFailure(failure))
                worker.stop()
            with self._lock:
                for task in self._tasks:
                    if _claim(task.future):
                        task.future.set_result(ParseFailure(failure))
                self._tasks.clear()

    def _settle(self, worker: _Worker, ready: Sequence[object]) -> bool:
        """Deliver a busy worker's outcome if it has one; False when the worker must go."""
        task = worker.task
        assert task is not None
        if worker.conn in ready:
            try:
                result = worker.conn.recv()
            except (EOFError, OSError):  # it died: its pipe closed
                worker.task = None
                worker.process.join(_JOIN_S)
                task.future.set_result(
                    ParseFailure(self.limits.death_reason(worker.process.exitcode))
                )
                return False
            if result == _READY:  # the file's time starts now
                worker.ready = True
                worker.began = time.monotonic()
                return True
            if result == _PARSED:  # chunking: the rest of the file's whole deadline
                worker.parsed = True
                return True
            worker.task = None
            if result is None:
                task.future.set_result(ParseFailure(self.limits.memory_reason()))
                return False
            if isinstance(result, ParseFailure) and result.reason.startswith(_MEMORY_FAILURE):
                detail = result.reason.removeprefix(_MEMORY_FAILURE + ": ")
                task.future.set_result(ParseFailure(f"{self.limits.memory_reason()} ({detail})"))
                return False  # its heap is fragmented at the cap: a fresh worker for the next
            task.future.set_result(result)
            return True
        if worker.process.sentinel in ready:
            worker.task = None
            worker.process.join(_JOIN_S)  # its exit code is known once it is reaped
            task.future.set_result(ParseFailure(self.limits.death_reason(worker.process.exitcode)))
            return False
        if time.monotonic() >= worker.deadline:
            worker.task = None
            if not worker.ready:
                log.warning("parser process not ready in %g s path=%s", _STARTUP_S, task.path)
                reason = (
                    f"no parser process could start in {_STARTUP_S:g} s; the machine is overloaded"
                )
                task.future.set_result(ParseFailure(reason))
                return False
            log.warning("file deadline passed path=%s parsed=%s", task.path, worker.parsed)
            reason = (
                self.limits.file_timeout_reason("while it was chunked")
                if worker.parsed
                else self.limits.parse_timeout_reason()
            )
            task.future.set_result(ParseFailure(reason))
            return False
        return True
