"""Ingestion on a real local Ray cluster (2 CPUs): the same store as the local pipeline, a
killed parse worker and a killed embedding actor retried, bad files failing as locally."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from index import ConfigError, KnowledgeBase, SentenceTransformerEmbedder, Store
from ingest import Ingestor, IngestReport, ParseLimits
from ingest.cluster import AUTO, Placement, RayCluster, RayStages
from tests.corpus import write_corpus
from tests.files import write_bad_corpus, write_good_corpus, write_stalling_files
from tests.helpers.cli import run_cited

LIMITS = ParseLimits(timeout_s=4)
CHUNK_TOKENS = 128


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    """One local cluster for the module (ray.init with 2 CPUs), as `--ray auto` starts it."""
    with RayCluster(AUTO, cpus=2) as started:
        yield started


@dataclass
class Stored:
    """A store's documents by file name: metadata, chunks and their vectors."""

    documents: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    chunks: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)


def stored(kb: KnowledgeBase) -> Stored:
    found = Stored()
    for doc in kb.store.list_documents(limit=10_000):
        name = Path(doc.source).name
        found.documents[name] = (
            doc.title,
            doc.content_hash,
            doc.file_type,
            doc.n_chunks,
            kb.store.document_text(doc.id),
        )
        chunks = kb.store.document_chunks(doc.id)
        found.chunks[name] = [
            (c.ordinal, c.start, c.end, c.page, c.section, c.n_tokens, c.text) for c in chunks
        ]
        found.vectors[name] = kb.embeddings([c.id for c in chunks])
    return found


def outcomes(report: IngestReport) -> dict[str, tuple[str, str | None]]:
    return {Path(o.source).name: (o.status, o.reason) for o in report.outcomes}


def ingest(
    kb: KnowledgeBase,
    embedder: SentenceTransformerEmbedder,
    folder: Path,
    cluster: RayCluster | None,
    commit_chunks: int = 512,
) -> IngestReport:
    def on_cluster() -> RayStages:
        assert cluster is not None
        return RayStages(cluster, embedder.model_name, 32, LIMITS, CHUNK_TOKENS, 32)

    ingestor = Ingestor(
        kb,
        embedder,
        max_file_bytes=2 * 2**20,
        parse_workers=1,
        parse_limits=LIMITS,
        chunk_tokens=CHUNK_TOKENS,
        commit_chunks=commit_chunks,
        stages=on_cluster if cluster is not None else None,
    )
    return ingestor.run([folder], "default")


@pytest.fixture
def local_kb(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[KnowledgeBase]:
    store = Store(f"sqlite:///{tmp_path / 'local.db'}")
    yield KnowledgeBase(store, tmp_path / "local.faiss", embedder.model_name)
    store.close()


@pytest.fixture
def ray_kb(
    database_url: str, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[KnowledgeBase]:
    store = Store(database_url)
    yield KnowledgeBase(store, tmp_path / "ray.faiss", embedder.model_name)
    store.close()


def assert_same(ours: Stored, theirs: Stored) -> None:
    assert ours.documents == theirs.documents
    assert ours.chunks == theirs.chunks
    for name, vectors in ours.vectors.items():
        assert np.abs(vectors - theirs.vectors[name]).max() <= 1e-5, name


def write_notes(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"station-{i:02d}.txt").write_text(
            "\n\n".join(
                f"Station {i}, day {day}: {i * day % 97} millimetres of rain, winds of "
                f"{(i + day) % 40} knots from the {['north', 'south', 'east', 'west'][day % 4]}."
                for day in range(12)
            )
        )


def write_slow_files(folder: Path, count: int) -> None:
    """Markdown that takes the parser one to two seconds (and then parses)."""
    for i in range(count):
        (folder / f"slow-{i}.md").write_text(f"Bracket run {i}.\n\n" + "[" * 3000)


@pytest.mark.slow
def test_ray_ingestion_stores_what_the_local_pipeline_stores(
    cluster: RayCluster,
    local_kb: KnowledgeBase,
    ray_kb: KnowledgeBase,
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    write_good_corpus(folder)
    write_corpus(folder / "notes")
    write_bad_corpus(folder / "bad")
    write_stalling_files(folder / "stalling")  # the deadline holds on the cluster too
    write_notes(folder / "stations", 30)

    local = ingest(local_kb, embedder, folder, None)
    on_ray = ingest(ray_kb, embedder, folder, cluster)

    assert outcomes(on_ray).keys() == outcomes(local).keys()
    for name, (status, reason) in outcomes(local).items():
        assert outcomes(on_ray)[name][0] == status, name
        assert outcomes(on_ray)[name][1] == reason, name
    assert outcomes(on_ray)["brackets.md"] == ("failed", LIMITS.timeout_reason())
    assert on_ray.timings.parse > 0 and on_ray.timings.embed > 0
    assert_same(stored(ray_kb), stored(local_kb))

    again = ingest(ray_kb, embedder, folder, cluster)  # idempotent by content hash
    assert again.counts["unchanged"] == local.counts["added"]
    assert again.counts["added"] == again.counts["updated"] == 0


class Killer:
    """Kills (-9) the first Ray worker seen running each given task or method, once."""

    def __init__(self, *titles: str) -> None:
        self.waiting = set(titles)
        self.killed: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while self.waiting and not self._stop.is_set():
            for process in psutil.process_iter(["pid", "cmdline"]):
                title = (process.info["cmdline"] or [""])[0]
                if title in self.waiting:
                    try:
                        process.kill()
                    except psutil.NoSuchProcess:
                        continue
                    self.waiting.discard(title)
                    self.killed[title] = process.info["pid"]
            time.sleep(0.01)


@pytest.mark.slow
def test_killed_parse_worker_and_embedding_actor_are_retried(
    cluster: RayCluster,
    local_kb: KnowledgeBase,
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    write_notes(folder, 24)
    write_slow_files(folder, 3)
    local = ingest(local_kb, embedder, folder, None, commit_chunks=48)

    store = Store(f"sqlite:///{tmp_path / 'ray.db'}")  # the store plays no part here
    try:
        ray_kb = KnowledgeBase(store, tmp_path / "ray.faiss", embedder.model_name)
        with Killer("ray::parse_batch", "ray::EmbedWorker.embed") as killer:
            on_ray = ingest(ray_kb, embedder, folder, cluster, commit_chunks=48)

        assert killer.killed.keys() == {"ray::parse_batch", "ray::EmbedWorker.embed"}
        assert outcomes(on_ray) == outcomes(local)
        assert not on_ray.failed
        assert_same(stored(ray_kb), stored(local_kb))
    finally:
        store.close()


def test_placement_gives_each_gpu_an_actor_and_leaves_cpus_for_parsing() -> None:
    assert Placement.plan(cpus=2, gpus=0) == Placement(1, 0.0, 1.0, 1)
    assert Placement.plan(cpus=1, gpus=0) == Placement(1, 0.0, 0.0, 1)  # they share it
    assert Placement.plan(cpus=32, gpus=4) == Placement(4, 1.0, 1.0, 28)
    assert Placement.plan(cpus=8, gpus=2, embedders=4) == Placement(4, 0.5, 1.0, 4)
    with pytest.raises(ConfigError, match="--ray-embedders"):
        Placement.plan(cpus=2, gpus=0, embedders=-1)


def test_without_ray_installed_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when it is absent
    with pytest.raises(ConfigError, match=r"pip install 'cited\[ray\]'"):
        RayCluster(AUTO)


HEAD = """
import sys, ray
ray.init(num_cpus=2, include_dashboard=False)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()  # until the test closes it
ray.shutdown()
"""


@pytest.mark.slow
def test_cli_joins_a_running_cluster_by_its_address(tmp_path: Path) -> None:
    # Ray authenticates its clients; a driver presents the cluster's token (here both are
    # given one; operators use `ray get-auth-token` or ~/.ray/auth_token).
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    env = {**os.environ, **auth}
    head = subprocess.Popen(
        [sys.executable, "-c", HEAD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert head.stdout is not None
        address = head.stdout.readline().strip()
        assert address, "the Ray head did not start"
        facts = write_good_corpus(tmp_path / "in")
        done = run_cited(
            tmp_path / "data",
            "ingest",
            str(tmp_path / "in"),
            "--ray",
            address,
            env=auth,
        )
        assert done.returncode == 0, done.stderr
        assert f"{len(facts)} added" in done.stdout
        listed = run_cited(tmp_path / "data", "docs", "list", "--json")
        assert len(json.loads(listed.stdout)) == len(facts)
    finally:
        assert head.stdin is not None and head.stdout is not None
        head.stdin.close()
        head.wait(timeout=60)
        head.stdout.close()


def test_cli_refuses_ray_options_without_ray(tmp_path: Path) -> None:
    done = run_cited(tmp_path / "data", "ingest", str(tmp_path), "--ray-cpus", "2")
    assert done.returncode == 2
    assert "--ray-cpus and --ray-embedders go with --ray" in done.stderr
    unreachable = run_cited(tmp_path / "data", "ingest", str(tmp_path), "--ray", "127.0.0.1:9")
    assert unreachable.returncode == 2
    assert "cannot reach the Ray cluster at '127.0.0.1:9'" in unreachable.stderr
