"""`kill -9` during `cited ingest`, then run again: the store is consistent and complete."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from index import KnowledgeBase, Store
from index.embedder import DEFAULT_MODEL
from tests.files import write_stalling_files

N_FILES = 240


def cited(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("cited")), *args]


def env_for(data: Path) -> dict[str, str]:
    # Small commit groups, so that there is a middle to kill the ingestion in.
    env = {
        **os.environ,
        "CITED_DATA_DIR": str(data),
        "CITED_LOG_LEVEL": "warning",
        "CITED_COMMIT_CHUNKS": "16",
    }
    env.pop("CITED_DATABASE_URL", None)
    return env


def write_files(folder: Path, version: str) -> dict[str, str]:
    """N_FILES notes; returns source -> sha256 of its content."""
    folder.mkdir(exist_ok=True)
    digests = {}
    for i in range(N_FILES):
        path = folder / f"note-{i:03d}.txt"
        path.write_text(
            f"Note {i}, {version}.\n\nStation {i} recorded {i * 7 % 101} millimetres of rain "
            f"and a wind of {i % 40} knots from the {['north', 'south', 'east', 'west'][i % 4]}.\n\n"
            f"The observer on duty ({version}) was number {i * 13 % 97}."
        )
        digests[os.path.abspath(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def committed_documents(data: Path) -> int:
    try:
        with sqlite3.connect(data / "cited.db", timeout=1) as conn:
            return int(conn.execute("select count(*) from documents").fetchone()[0])
    except sqlite3.Error:
        return 0


def generation(data: Path) -> int:
    with sqlite3.connect(data / "cited.db", timeout=1) as conn:
        return int(conn.execute("select generation from index_state").fetchone()[0])


def kill_when(
    folder: Path, data: Path, ready: Callable[[], bool], options: tuple[str, ...] = ()
) -> None:
    """Start an ingestion and kill -9 it as soon as `ready()` holds, before it finishes."""
    process = subprocess.Popen(
        cited("ingest", str(folder), *options),
        env=env_for(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None and not ready():
            time.sleep(0.02)
        assert process.poll() is None, "ingestion finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def ingest_json(folder: Path, data: Path, options: tuple[str, ...] = ()) -> dict[str, Any]:
    done = subprocess.run(
        cited("ingest", str(folder), "--json", *options),
        env=env_for(data),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def check_consistent(data: Path, allowed_hashes: dict[str, set[str]]) -> None:
    """Every document is whole (one version's hash, chunks slicing its own text) and the
    vector index holds exactly the chunk ids SQL has."""
    store = Store(f"sqlite:///{data / 'cited.db'}")
    try:
        for doc in store.list_documents(limit=10_000):
            assert doc.content_hash in allowed_hashes[doc.source]
            text = store.document_text(doc.id)
            chunks = store.document_chunks(doc.id)
            assert len(chunks) == doc.n_chunks > 0
            assert [c.ordinal for c in chunks] == list(range(len(chunks)))
            assert all(text[c.start : c.end] == c.text for c in chunks)
        kb = KnowledgeBase(store, data / "vectors.faiss", DEFAULT_MODEL)
        vectors = kb.vectors()
        assert vectors is not None
        assert set(vectors.ids()) == set(store.chunk_ids())
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("options", [(), ("--ray", "--ray-cpus", "2")], ids=["local", "ray"])
def test_kill_9_mid_ingestion_then_rerun_is_consistent_and_complete(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    """The driver of a Ray ingestion too: the cluster parses and embeds, it writes."""
    folder, data = tmp_path / "in", tmp_path / "data"
    old = write_files(folder, "first draft")

    kill_when(folder, data, lambda: committed_documents(data) > 0, options)
    done_before = committed_documents(data)
    assert 0 < done_before < N_FILES
    check_consistent(data, {s: {h} for s, h in old.items()})

    files = ingest_json(folder, data, options)["files"]
    assert files["unchanged"] >= done_before  # nothing committed was redone
    assert files["unchanged"] + files["added"] == N_FILES and files["failed"] == 0
    check_consistent(data, {s: {h} for s, h in old.items()})
    assert committed_documents(data) == N_FILES

    # Now every file changes and the update is killed half way: each document is the old
    # or the new version, never a mix; the next run finishes the job.
    new = write_files(folder, "second draft")
    before = generation(data)
    kill_when(folder, data, lambda: generation(data) > before, options)
    check_consistent(data, {s: {old[s], new[s]} for s in old})
    with sqlite3.connect(data / "cited.db") as conn:
        hashes = [row[0] for row in conn.execute("select content_hash from documents")]
    updated = sum(h in set(new.values()) for h in hashes)
    assert len(hashes) == N_FILES and 0 < updated < N_FILES  # killed part-way
    assert ingest_json(folder, data, options)["files"]["updated"] == N_FILES - updated
    check_consistent(data, {s: {h} for s, h in new.items()})


def parser_processes(pid: int) -> list[psutil.Process]:
    try:
        children: list[psutil.Process] = psutil.Process(pid).children(recursive=True)
        return children
    except psutil.NoSuchProcess:
        return []


def running(process: psutil.Process) -> bool:
    """Alive and not a zombie (an exited child whose parent, here init, has not reaped it)."""
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def wait_gone(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """The processes still running after up to `seconds`."""
    deadline = time.monotonic() + seconds
    while (alive := [p for p in processes if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.mark.slow
def test_parsers_die_with_a_killed_ingestion_and_end_with_a_finished_one(tmp_path: Path) -> None:
    folder, data = tmp_path / "in", tmp_path / "data"
    write_stalling_files(folder)
    env = {**env_for(data), "CITED_PARSE_TIMEOUT_S": "4", "CITED_PARSE_WORKERS": "2"}

    process = subprocess.Popen(cited("ingest", str(folder)), env=env, stdout=subprocess.DEVNULL)
    seen: list[psutil.Process] = []
    deadline = time.monotonic() + 120
    while len(seen) < 3 and time.monotonic() < deadline:  # two parsers + resource tracker
        seen = parser_processes(process.pid)
        time.sleep(0.1)
    assert len(seen) >= 3, "the parser processes did not start"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert wait_gone(seen, 10) == [], "parser processes outlived a kill -9 of their ingestion"

    process = subprocess.Popen(cited("ingest", str(folder)), env=env, stdout=subprocess.DEVNULL)
    seen = []
    while process.poll() is None:
        seen += [p for p in parser_processes(process.pid) if p not in seen]
        time.sleep(0.1)
    assert process.returncode == 1  # both files failed at their deadline
    assert seen and wait_gone(seen, 1) == [], "cited ingest exited and left processes running"
