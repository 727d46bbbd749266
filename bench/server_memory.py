"""What one `cited serve` holds in memory: its resident set once ready (the embedding
model, the two reading models and their ONNX exports loaded), and after answering
questions over the demo corpus (docs/), ingested first into a temporary data folder.

Each replica of a deployment pays this, so it is the per-server figure of docs/deploy.md's
sizing. Results: bench/results/server_memory.json.

    .venv/bin/python bench/server_memory.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import psutil
from corpora import ROOT
from serve import server_process

QUESTIONS = [
    "How do I send searches to a read replica?",
    "What does cited do when the documents do not answer a question?",
    "Which file formats can be ingested?",
]


def tree_rss_mb(process: psutil.Process) -> float:
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        total += child.memory_info().rss
    return round(total / 2**20, 1)


def main() -> None:
    cited = str(Path(sys.executable).with_name("cited"))
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        env = {**os.environ, "CITED_DATA_DIR": str(data)}
        subprocess.run([cited, "ingest", str(ROOT / "docs")], env=env, check=True)
        with server_process(data, Path(folder) / "server.log") as (base, server):
            process = psutil.Process(server.pid)
            ready = tree_rss_mb(process)
            for question in QUESTIONS:
                answer = httpx.post(base + "/v1/ask", json={"question": question}, timeout=120)
                answer.raise_for_status()
            result = {"rss_mb_ready": ready, "rss_mb_after_questions": tree_rss_mb(process)}
    print(json.dumps(result))
    out = ROOT / "bench/results/server_memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
