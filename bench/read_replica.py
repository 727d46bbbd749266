"""What a PostgreSQL read replica takes off the primary (CITED_DATABASE_READ_URL).

For each dataset's PostgreSQL bench store (see bench/corpora.py: database_for), a server's
two database loads, measured with and without a hot standby of it:
- start: building the vector index from the stored embeddings (a server with no index
  file yet, as on a new machine): seconds, and database time on each server;
- questions: the hybrid search of N questions, one at a time (models warm): latency, and
  SQL statements and database time per question on each server.
Database time is the client-side time inside cursor.execute and fetching (SQLAlchemy
events), so it includes the network round trip (loopback here).

    .venv/bin/python bench/read_replica.py \\
        --database-url postgresql+psycopg://cited:cited@127.0.0.1:5432/cited_bench \\
        --read-url postgresql+psycopg://cited:cited@127.0.0.1:5433/cited_bench

Results: bench/results/read_replica.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpora import ROOT, database_for, prepare
from pydantic import SecretStr
from sqlalchemy import Engine, event

from api import wiring
from index.replica import ReplicaReads

WARMUP = 20


@dataclass
class Tally:
    statements: int = 0
    seconds: float = 0.0


@contextmanager
def tallied(engine: Engine) -> Iterator[Tally]:
    """Statements run on `engine` and the time spent in them, while inside."""
    tally = Tally()
    started: dict[int, float] = {}

    def before(conn: Any, cursor: Any, *_: Any) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, *_: Any) -> None:
        tally.statements += 1
        tally.seconds += time.perf_counter() - started.pop(id(cursor), time.perf_counter())

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield tally
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def per(tally: Tally, n: int) -> dict[str, float]:
    return {
        "statements": round(tally.statements / n, 2),
        "db_ms": round(tally.seconds * 1000 / n, 3),
    }


def measure(settings: Any, questions: list[str]) -> dict[str, Any]:
    """Start (index built from the store) and questions, with `settings`' store."""
    store = wiring.open_store(settings)
    standby = store.reads.standby.engine if isinstance(store.reads, ReplicaReads) else None
    engines = {"primary": store.engine, **({"standby": standby} if standby else {})}
    try:
        kb = wiring.knowledge_base(settings, store)
        retriever = wiring.retriever(settings, kb, wiring.embedder(settings))
        result: dict[str, Any] = {}
        with tallied(engines["primary"]) as p, _maybe(engines.get("standby")) as s:
            started = time.perf_counter()
            vectors = kb.vectors()
            result["start"] = {
                "seconds": round(time.perf_counter() - started, 2),
                "vectors": len(vectors) if vectors is not None else 0,
                "primary_db_s": round(p.seconds, 2),
                "standby_db_s": round(s.seconds, 2),
            }
        for question in questions[:WARMUP]:
            retriever.search(question, settings.top_k)
        timed = questions[WARMUP:]
        latencies = []
        with tallied(engines["primary"]) as p, _maybe(engines.get("standby")) as s:
            for question in timed:
                started = time.perf_counter()
                retriever.search(question, settings.top_k)
                latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        result["questions"] = {
            "n": len(timed),
            "p50_ms": round(latencies[len(latencies) // 2], 2),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
            "primary": per(p, len(timed)),
            "standby": per(s, len(timed)),
        }
        return result
    finally:
        store.close()


@contextmanager
def _maybe(engine: Engine | None) -> Iterator[Tally]:
    if engine is None:
        yield Tally()
        return
    with tallied(engine) as tally:
        yield tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True, help="the primary, as bench/quality.py")
    parser.add_argument("--read-url", required=True, help="its hot standby, same database name")
    parser.add_argument("--sets", default="squad_v1.1,scifact_beir")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/read_replica.json")
    args = parser.parse_args()

    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}}
    for name in args.sets.split(","):
        corpus = prepare(name, args.database_url)
        questions = [
            q["text"]
            for q in random.Random(7).sample(
                corpus.queries, min(len(corpus.queries), args.questions + WARMUP)
            )
        ]
        result[name] = {}
        for route in ("primary only", "with standby"):
            with tempfile.TemporaryDirectory() as fresh:  # no index file: built at start
                overrides: dict[str, Any] = {"data_dir": Path(fresh)}
                if route == "with standby":
                    overrides["database_read_url"] = SecretStr(database_for(args.read_url, name))
                settings = corpus.settings.model_copy(update=overrides)
                result[name][route] = measure(settings, questions)
            print(name, route, json.dumps(result[name][route]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
