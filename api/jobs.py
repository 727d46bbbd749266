"""Ingestion jobs of the HTTP API: uploaded files are ingested one job at a time by a
worker thread, while the server goes on answering.

A job holds the writer lock of the data dir while it writes (waiting for it when
`cited ingest` holds it), so the server and other processes never write at once. Each
file's outcome is `added`, `updated`, `unchanged` or `failed` with the reason, shown as soon
as it is known; a file refused at upload (bad name, wrong content) is failed before the job
starts. An uploaded original is kept only when its document was added or updated.

No file holds the queue for long: each has a chunk cap and a whole-file deadline
(CITED_MAX_CHUNKS_PER_FILE, CITED_FILE_TIMEOUT_S, enforced by the ingestor), past which it
fails with its reason and the job goes on. `queue_state()` says which job runs, for how
long, and what waits (GET /v1/jobs, /metrics).

`stop()` (the server's SIGTERM) ends the running job at its next safe point: its document
being written commits or rolls back, and its files not yet stored, like every queued job,
end `interrupted`, with the reason and what to do (upload them again). Deliberately not
done: jobs live in memory (the last `KEEP_JOBS`) and a restart forgets them; their staged
files are removed at start-up.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from api.uploads import keep
from index import CitedError, NotFoundError, SharedWriterLock, WriterLockedError
from index.errors import Busy
from ingest import FILE_TYPES, FileOutcome, Ingestor, IngestReport, Progress, StopRequest
from ingest.discover import Candidate

log = logging.getLogger(__name__)

KEEP_JOBS = 1000
QUEUE_MAX = 64
LOCK_POLL_S = 0.5
STOP_POLL_S = 0.2  # how often an idle worker looks for a stop
JOIN_S = 15.0  # longest close() waits for the worker to finish its stop
AGAIN = "upload it again to ingest it"

JobStatus = Literal["queued", "waiting", "running", "done", "failed", "interrupted"]
FileStatus = Literal["queued", "added", "updated", "unchanged", "failed", "interrupted"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class JobFile:
    name: str
    size: int
    status: FileStatus = "queued"
    reason: str | None = None
    document_id: str | None = None
    chunks: int = 0
    staged: Path | None = None  # where the upload waits
    final: Path | None = None  # where the original is kept (the document's source)


@dataclass
class Job:
    id: str
    collection: str
    files: list[JobFile]
    status: JobStatus = "queued"
    error: str | None = None
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    files_done: int = 0
    chunks_added: int = 0
    phase: str | None = None  # what the running ingestion does now
    files_parsed: int = 0
    chunks_embedded: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    queued_at: float = field(default_factory=time.monotonic)
    started: float | None = None  # monotonic, once it runs

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "collection": self.collection,
            "status": self.status,
            "error": self.error,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "progress": {
                "files": len(self.files),
                "files_done": self.files_done,
                "chunks_added": self.chunks_added,
                "phase": self.phase,
                "files_parsed": self.files_parsed,
                "chunks_embedded": self.chunks_embedded,
            },
            "files": [
                {
                    "name": f.name,
                    "size": f.size,
                    "status": f.status,
                    "reason": f.reason,
                    "document_id": f.document_id,
                    "chunks": f.chunks,
                }
                for f in self.files
            ],
        }


class _JobProgress:
    """The ingestor's progress, counted into the job, each file's outcome shown as it comes
    (read by GET /v1/jobs/{id})."""

    def __init__(self, job: Job, files: dict[str, JobFile], lock: threading.Lock) -> None:
        self.job = job
        self.files = files  # source -> the job's file
        self.lock = lock

    def start(self, total_files: int) -> None:
        pass

    def phase(self, name: str, files: int | None = None) -> None:
        with self.lock:
            self.job.phase = name

    def advance(
        self, parsed: int = 0, chunks: int = 0, embedded: int = 0, seconds: float = 0.0
    ) -> None:
        with self.lock:
            self.job.files_parsed += parsed
            self.job.chunks_embedded += embedded

    def update(self, outcome: FileOutcome) -> None:
        file = self.files.get(outcome.source)
        stored = outcome.status in ("added", "updated")
        if file is not None and stored and file.staged is not None and file.final is not None:
            keep(file.staged, file.final)  # the original is served from now on
        with self.lock:
            self.job.files_done += 1
            self.job.chunks_added += outcome.chunks
            if file is not None:
                _settle(file, outcome)

    def close(self) -> None:
        pass


def _settle(file: JobFile, outcome: FileOutcome) -> None:
    file.status = outcome.status  # type: ignore[assignment]
    file.reason = outcome.reason
    file.document_id = outcome.document_id
    file.chunks = outcome.chunks


class JobRunner:
    """Runs jobs in submission order on one worker thread."""

    def __init__(
        self,
        ingestor: Callable[[Progress, StopRequest], Ingestor],
        writer: SharedWriterLock,
        files_dir: Path,
        staging_dir: Path,
        on_report: Callable[[IngestReport], None] | None = None,
    ) -> None:
        """`files_dir`: where originals are kept (shared by the servers of one store);
        `staging_dir`: where this server's uploads wait for their job (its own)."""
        self._ingestor = ingestor
        self._writer = writer
        self.files_dir = files_dir
        self.staging_dir = staging_dir
        self._on_report = on_report
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job] = queue.Queue(QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self._stop = StopRequest()
        self._running: Job | None = None

    def start(self) -> None:
        shutil.rmtree(self.staging_dir, ignore_errors=True)  # left by a previous run
        self._thread = threading.Thread(target=self._work, name="cited-jobs", daemon=True)
        self._thread.start()

    def stop(self, reason: str) -> None:
        """Stop the running job at its next safe point and every queued one (see the module
        docstring). Safe in a signal handler: it only sets a flag the worker polls."""
        self._stop.stop(reason)

    def close(self) -> None:
        self.stop("the server stopped")
        if self._thread is not None:
            self._thread.join(timeout=JOIN_S)
            if self._thread.is_alive():
                log.error("the ingestion worker did not stop within %g s", JOIN_S)

    def new_job(self, collection: str) -> Job:
        """A job to stage files into (`stage_dir(job)`), then `submit()`."""
        if self._stop.requested():
            raise Busy(f"{self._stop.reason}: no uploads are taken now; upload again later")
        if self._queue.full():
            raise Busy(
                f"{QUEUE_MAX} ingestion jobs are waiting already; retry when GET /v1/jobs "
                "shows fewer"
            )
        return Job(uuid.uuid4().hex, collection, [])

    def stage_dir(self, job: Job) -> Path:
        path = self.staging_dir / job.id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def submit(self, job: Job) -> None:
        with self._lock:
            job.files_done = sum(f.status != "queued" for f in job.files)
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                oldest = next(iter(self._jobs.values()))
                if not oldest.done.is_set():
                    break
                self._jobs.popitem(last=False)
        if not any(f.status == "queued" for f in job.files):
            self._finish(job, None)
            return
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self._finish(job, "the ingestion queue is full; upload again later")
            raise Busy("the ingestion queue is full; upload again later") from None

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(
                f"no job with id {job_id!r} (jobs are kept in memory until restart)"
            )
        return job

    def jobs(self) -> list[Job]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def snapshot(self, job: Job) -> dict[str, Any]:
        with self._lock:
            return job.to_dict()

    def queue_state(self) -> dict[str, Any]:
        """Which job runs and for how long, which wait and for how long (oldest first)."""
        now = time.monotonic()
        with self._lock:
            running = self._running
            waiting = [j for j in self._jobs.values() if j.status == "queued"]
            return {
                "stopping": self._stop.requested(),
                "running": None
                if running is None or running.started is None
                else {
                    "id": running.id,
                    "collection": running.collection,
                    "status": running.status,
                    "seconds": round(now - running.started, 1),
                    "files": len(running.files),
                    "files_done": running.files_done,
                },
                "queued": [
                    {
                        "id": j.id,
                        "collection": j.collection,
                        "seconds": round(now - j.queued_at, 1),
                        "files": len(j.files),
                    }
                    for j in waiting
                ],
            }

    def _work(self) -> None:
        while not self._stop.requested():
            try:
                job = self._queue.get(timeout=STOP_POLL_S)
            except queue.Empty:
                continue
            try:
                self._run(job)
            except CitedError as exc:
                self._finish(job, exc.message)
            except Exception:  # the worker must survive any job: report it, go on
                log.exception("ingestion job failed id=%s", job.id)
                self._finish(job, "the ingestion failed; the details are in the server log")
            finally:
                with self._lock:
                    self._running = None
        while True:  # stopped: what waits will not run
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            reason = f"{self._stop.reason} before this job started; upload its files again"
            self._finish(job, reason, "interrupted")

    def _lock_data_dir(self, job: Job) -> bool:
        """Take the writer lock, waiting for another writer; False when stopped first."""
        while True:
            try:
                self._writer.acquire()
                return True
            except WriterLockedError as exc:
                with self._lock:
                    job.status, job.error = "waiting", exc.message
                if self._stop.wait(LOCK_POLL_S):
                    return False
                continue

    def _run(self, job: Job) -> None:
        with self._lock:
            job.status, job.started_at, job.started = "running", _now(), time.monotonic()
            self._running = job
        if not self._lock_data_dir(job):
            reason = f"{self._stop.reason} before this job started; upload its files again"
            self._finish(job, reason, "interrupted")
            return
        try:
            with self._lock:
                job.status, job.error = "running", None
            todo = {str(f.final): f for f in job.files if f.status == "queued"}
            candidates = [
                # the upload's sniff accepted only known extensions
                Candidate(f.staged, source, FILE_TYPES[f.final.suffix.lower()], f.size)
                for source, f in todo.items()
                if f.staged is not None and f.final is not None
            ]
            progress = _JobProgress(job, todo, self._lock)
            report = self._ingestor(progress, self._stop).run_files(candidates, job.collection)
            for outcome in report.outcomes:  # the others were settled as they came
                file = todo.get(outcome.source)
                if file is not None and outcome.status == "interrupted":
                    with self._lock:
                        _settle(file, replace(outcome, reason=f"{outcome.reason}; {AGAIN}"))
            if self._on_report is not None:
                self._on_report(report)
            if report.interrupted:
                error = f"{report.interrupted}; upload the files marked interrupted again"
                self._finish(job, error, "interrupted")
            else:
                self._finish(job, None)
        finally:
            self._writer.release()

    def _finish(self, job: Job, error: str | None, status: JobStatus | None = None) -> None:
        """End a job: `status` (default: failed with an error, else done); its files not
        yet ended take the same status, with `error` as their reason."""
        status = status or ("failed" if error else "done")
        with self._lock:
            for file in job.files:
                if file.status == "queued":
                    file.status = "interrupted" if status == "interrupted" else "failed"
                    file.reason = error or "not ingested"
            job.files_done = len(job.files)
            job.phase = None
            job.status = status
            job.error = error
            job.finished_at = _now()
        shutil.rmtree(self.staging_dir / job.id, ignore_errors=True)
        job.done.set()

    def wait(self, job: Job, timeout: float) -> bool:
        """True when the job finished within `timeout` seconds."""
        return job.done.wait(timeout)
