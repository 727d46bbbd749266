"""Ingestion jobs of the HTTP API: uploaded files are ingested one job at a time by a
worker thread, while the server goes on answering.

A job holds the writer lock of the data dir while it writes (waiting for it when
`cited ingest` holds it), so the server and other processes never write at once. Each
file's outcome is `added`, `updated`, `unchanged` or `failed` with the reason; a file
refused at upload (bad name, wrong content) is failed before the job starts. An uploaded
original is kept only when its document was added or updated.

Deliberately not done: jobs live in memory (the last `KEEP_JOBS`) and a restart forgets
them; their staged files are removed at start-up.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from api.uploads import keep
from index import CitedError, NotFoundError, SharedWriterLock, WriterLockedError
from index.errors import Busy
from ingest import FILE_TYPES, Ingestor, IngestReport, Progress
from ingest.discover import Candidate

log = logging.getLogger(__name__)

KEEP_JOBS = 1000
QUEUE_MAX = 64
LOCK_POLL_S = 0.5

JobStatus = Literal["queued", "waiting", "running", "done", "failed"]
FileStatus = Literal["queued", "added", "updated", "unchanged", "failed"]


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
    done: threading.Event = field(default_factory=threading.Event)

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
    """The ingestor's progress, counted into the job (read by GET /v1/jobs/{id})."""

    def __init__(self, job: Job, lock: threading.Lock) -> None:
        self.job = job
        self.lock = lock

    def start(self, total_files: int) -> None:
        pass

    def update(self, files: int, chunks: int) -> None:
        with self.lock:
            self.job.files_done += files
            self.job.chunks_added += chunks

    def close(self) -> None:
        pass


class JobRunner:
    """Runs jobs in submission order on one worker thread."""

    def __init__(
        self,
        ingestor: Callable[[Progress], Ingestor],
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
        self._queue: queue.Queue[Job | None] = queue.Queue(QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        shutil.rmtree(self.staging_dir, ignore_errors=True)  # left by a previous run
        self._thread = threading.Thread(target=self._work, name="cited-jobs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            # when full, the worker sees _stopping after its current job
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=1)
            self._thread.join(timeout=30)

    def new_job(self, collection: str) -> Job:
        """A job to stage files into (`stage_dir(job)`), then `submit()`."""
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

    def _work(self) -> None:
        while not self._stopping.is_set():
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except CitedError as exc:
                self._finish(job, exc.message)
            except Exception:  # the worker must survive any job: report it, go on
                log.exception("ingestion job failed id=%s", job.id)
                self._finish(job, "the ingestion failed; the details are in the server log")

    def _lock_data_dir(self, job: Job) -> None:
        while True:
            try:
                self._writer.acquire()
                return
            except WriterLockedError as exc:
                with self._lock:
                    job.status, job.error = "waiting", exc.message
                if self._stopping.wait(LOCK_POLL_S):
                    raise
                continue

    def _run(self, job: Job) -> None:
        with self._lock:
            job.status, job.started_at = "running", _now()
        self._lock_data_dir(job)
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
            progress = _JobProgress(job, self._lock)
            report = self._ingestor(progress).run_files(candidates, job.collection)
            for outcome in report.outcomes:
                file = todo.get(outcome.source)
                if file is None:
                    continue
                if outcome.status in ("added", "updated") and file.staged and file.final:
                    keep(file.staged, file.final)
                with self._lock:
                    file.status = outcome.status  # type: ignore[assignment]
                    file.reason = outcome.reason
                    file.document_id = outcome.document_id
                    file.chunks = outcome.chunks
            if self._on_report is not None:
                self._on_report(report)
            self._finish(job, None)
        finally:
            self._writer.release()

    def _finish(self, job: Job, error: str | None) -> None:
        with self._lock:
            for file in job.files:
                if file.status == "queued":
                    file.status = "failed"
                    file.reason = error or "not ingested"
            job.files_done = len(job.files)
            job.status = "failed" if error else "done"
            job.error = error
            job.finished_at = _now()
        shutil.rmtree(self.staging_dir / job.id, ignore_errors=True)
        job.done.set()

    def wait(self, job: Job, timeout: float) -> bool:
        """True when the job finished within `timeout` seconds."""
        return job.done.wait(timeout)
