"""Prometheus metrics of one app (its own registry, no process globals): requests and
latency by route and status, answers by outcome, ingestion counters and the ingestion
queue, and the index size read from the store at scrape time (and, with a read replica, its lag and whether it is in
use)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from index import KnowledgeBase
from index.replica import ReplicaReads
from ingest import IngestReport

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _IndexSize(Collector):
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def collect(self) -> Iterator[GaugeMetricFamily]:
        store = self.kb.store
        yield GaugeMetricFamily(
            "cited_documents", "Documents in the store.", store.count_documents()
        )
        yield GaugeMetricFamily("cited_chunks", "Chunks in the store.", store.count_chunks())
        vectors = self.kb.loaded_vectors()
        yield GaugeMetricFamily(
            "cited_vectors", "Vectors in the loaded FAISS index.", len(vectors) if vectors else 0
        )
        if isinstance(store.reads, ReplicaReads):
            shown = store.reads.describe()
            if "behind" in shown:
                yield GaugeMetricFamily(
                    "cited_read_replica_behind",
                    "Store generations (writes) the read replica has not replayed yet.",
                    shown["behind"],
                )
            yield GaugeMetricFamily(
                "cited_read_replica_in_use",
                "1 while reads go to the read replica, 0 while they fall back to the primary.",
                1 if shown["reading_from"] == "replica" else 0,
            )


class _Jobs(Collector):
    """The ingestion queue at scrape time (api.jobs.JobRunner.queue_state)."""

    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self.state()
        running = state["running"]
        jobs = GaugeMetricFamily(
            "cited_ingest_jobs", "Ingestion jobs now, by state.", labels=["state"]
        )
        jobs.add_metric(["queued"], len(state["queued"]))
        jobs.add_metric(["running"], 1 if running and running["status"] == "running" else 0)
        jobs.add_metric(["waiting"], 1 if running and running["status"] == "waiting" else 0)
        yield jobs
        yield GaugeMetricFamily(
            "cited_ingest_running_job_seconds",
            "How long the job now running (or waiting for the writer lock) has run; 0: none.",
            running["seconds"] if running else 0.0,
        )
        yield GaugeMetricFamily(
            "cited_ingest_queued_job_seconds",
            "How long the oldest queued job has waited; 0: none waits.",
            max((job["seconds"] for job in state["queued"]), default=0.0),
        )


class Metrics:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "cited_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cited_http_request_duration_seconds",
            "Time from request to the end of the response, by method and route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "cited_answers",
            "Answers given, by mode and outcome (answered or abstained).",
            ["mode", "outcome"],
            registry=self.registry,
        )
        self.ingested_files = Counter(
            "cited_ingested_files",
            "Files ingested through the API, by outcome.",
            ["status"],
            registry=self.registry,
        )
        self.ingested_chunks = Counter(
            "cited_ingested_chunks", "Chunks added through the API.", registry=self.registry
        )
        self.registry.register(_IndexSize(kb))

    def track_jobs(self, state: Callable[[], dict[str, Any]]) -> None:
        """Export the ingestion queue's state (read at each scrape)."""
        self.registry.register(_Jobs(state))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def answered(self, mode: str, abstained: bool) -> None:
        self.answers.labels(mode, "abstained" if abstained else "answered").inc()

    def ingested(self, report: IngestReport) -> None:
        for status, count in report.counts.items():
            self.ingested_files.labels(status).inc(count)
        self.ingested_chunks.inc(report.chunks_added)

    def render(self) -> bytes:
        return generate_latest(self.registry)
