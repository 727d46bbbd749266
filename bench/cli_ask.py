"""Wall time of `cited ask` as a person runs it: a new process per question, over the demo
corpus (docs/, ingested into bench/.cache/demo), the machine's caches warm (a first,
untimed run of each question makes any missing ONNX export and fills the page cache).
`cited search` is timed the same way for comparison. Then one more process, timed phase by
phase (imports, store, the question's embedding, the vector index, the answer model, the
answer, the interpreter's exit), says where the time goes and which heavy libraries it
imported. Results: bench/results/cli_ask.json.

    .venv/bin/python bench/cli_ask.py [--runs 6] [--baseline /tmp/before]

With --baseline (another source tree of cited, e.g. the previous commit: `mkdir
/tmp/before && git archive HEAD | tar -x -C /tmp/before`) both are timed, run by run in
turn, so that the load of a shared machine weighs on both alike; their answers are
compared too: a change that makes `cited ask` faster must not change what it answers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from corpora import CACHE, ROOT

QUESTIONS = [
    "How do I use PostgreSQL instead of SQLite?",
    "What happens to the rest of the batch when one of my files is broken?",
    "Which file types can cited read?",
]
HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn")

# One `cited ask`, its steps timed in the order the command takes them (api/cli.py).
PHASES = """
import json, os, sys, time
started = time.perf_counter()
marks = {}
def mark(name):
    global started
    now = time.perf_counter()
    marks[name] = round(now - started, 3)
    started = now
from api import cli, wiring
from api.settings import Settings
from ingest import offline
offline.set_environment()
mark("import cited")
settings = Settings()
opened = getattr(wiring, "existing_store", wiring.open_store)  # older trees have no check
kb = wiring.knowledge_base(settings, opened(settings))
kb.check_model()
embedder = wiring.embedder(settings)
qa = wiring.question_answerer(settings, wiring.retriever(settings, kb, embedder))
mark("settings, store, stages")
embedder.embed_query("warm up")
mark("embedding model (first question vector)")
kb.vectors()
mark("vector index (load, check against the store)")
_ = qa.extractive.model.loaded
mark("answer model (load, ONNX export opened)")
answer = qa.ask(sys.argv[1])
mark("the answer (retrieve, read, verify)")
heavy = [m for m in sys.argv[2].split(",") if m in sys.modules]
print(json.dumps({"phases_s": marks, "imported": heavy, "ended": time.time()}), flush=True)
"""


def cited(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """(seconds, completed process) of one `cited ARGS`, run as a user runs it."""
    command = [str(Path(sys.executable).with_name("cited")), *args]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return seconds, done


def summary(samples: list[float]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(samples), 2),
        "min_s": round(min(samples), 2),
        "max_s": round(max(samples), 2),
        "runs": len(samples),
        "each_s": [round(s, 2) for s in samples],
    }


def phases(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """One ask, timed by step; "interpreter exit" is what finalizing the process took."""
    done = subprocess.run(
        [sys.executable, "-c", PHASES, QUESTIONS[0], ",".join(HEAVY)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    exited = time.time()
    measured = json.loads(done.stdout.splitlines()[-1])
    measured["phases_s"]["interpreter exit"] = round(exited - measured.pop("ended"), 3)
    return measured


class Tree:
    """One source tree of cited under test, with what its runs measured."""

    def __init__(self, name: str, source: Path, data: Path) -> None:
        self.name = name
        self.source = source
        self.env = {**os.environ, "CITED_DATA_DIR": str(data), "PYTHONPATH": str(source)}
        self.env.pop("CITED_LOG_LEVEL", None)  # as a user runs it: the default level
        self.asks: list[float] = []
        self.searches: list[float] = []
        self.answers: dict[str, set[str]] = {q: set() for q in QUESTIONS}
        self.stderr_lines = 0

    def ask(self, question: str, timed: bool = True) -> None:
        seconds, done = cited(self.env, "ask", question)
        self.answers[question].add(hashlib.sha256(done.stdout.encode()).hexdigest()[:12])
        if timed:
            self.asks.append(seconds)
            self.stderr_lines += len(done.stderr.splitlines())

    def search(self) -> None:
        self.searches.append(cited(self.env, "search", QUESTIONS[0])[0])

    def result(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "cited_ask": summary(self.asks),
            "cited_search": summary(self.searches),
            "stderr_lines_per_ask": round(self.stderr_lines / max(len(self.asks), 1), 2),
            **phases(self.env, self.source),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=6, help="Timed runs of each command.")
    parser.add_argument("--baseline", type=Path, default=None, help="A tree to compare with.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/cli_ask.json")
    args = parser.parse_args()

    data = CACHE / "demo" / "data"
    trees = [Tree("this tree", ROOT, data)]
    if args.baseline is not None:
        trees.insert(0, Tree("baseline", args.baseline.resolve(), data))
    cited(trees[-1].env, "ingest", str(ROOT / "docs"))  # unchanged files are skipped
    for tree in trees:
        for question in QUESTIONS:  # warm: exports made, files in the page cache
            tree.ask(question, timed=False)
    for run in range(args.runs):
        for tree in trees:
            tree.ask(QUESTIONS[run % len(QUESTIONS)])
    for _ in range(args.runs):
        for tree in trees:
            tree.search()

    result: dict[str, Any] = {tree.name: tree.result() for tree in trees}
    digests = [{q: sorted(d) for q, d in tree.answers.items()} for tree in trees]
    result["answers_identical"] = all(
        len(d) == 1 for tree in trees for d in tree.answers.values()
    ) and all(d == digests[0] for d in digests)
    result["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
