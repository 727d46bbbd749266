"""Peak memory of `cited ingest`, measured from outside, over its whole process tree.

Writes the first 500 SQuAD v1.1 paragraphs as .txt files, runs `cited ingest` on them in a
fresh data folder (as an operator would, a subprocess), and samples the resident memory
of the process and all its descendants every 50 ms: the peak of their sum, and what each
process held at that moment (the main process, the parser processes). First `cited
prepare` into an empty model cache (what `make install` does once per machine: the ONNX
export, which loads torch), then `cited ingest` twice, each into a fresh data folder.
Results: bench/results/ingest_memory.json.

    .venv/bin/python bench/ingest_memory.py [--limit 500] [--out PATH] [-- extra cited args]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent


def tree_rss(root: psutil.Process) -> dict[str, int]:
    """Resident bytes of `root` and each live descendant, by `name pid`."""
    sizes: dict[str, int] = {}
    with contextlib.suppress(psutil.Error):
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                sizes[f"{process.name()} {process.pid}"] = process.memory_info().rss
    return sizes


def measure(command: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    with out.open("w") as stdout:  # a file, not a pipe: the JSON report outgrows a pipe
        process = subprocess.Popen(command, env=env, stdout=stdout)
        root = psutil.Process(process.pid)
        peak: dict[str, int] = {}
        while process.poll() is None:
            sizes = tree_rss(root)
            if sum(sizes.values()) > sum(peak.values()):
                peak = sizes
            time.sleep(0.05)
    assert process.returncode == 0, out.read_text()[-2000:]
    measured: dict[str, Any] = {
        "peak_tree_mb": round(sum(peak.values()) / 2**20, 1),
        "at_peak_mb": {name: round(rss / 2**20, 1) for name, rss in peak.items()},
        "wall_s": round(time.perf_counter() - started, 2),
    }
    if "--json" in command:
        report = json.loads(out.read_text())
        measured.update(files_added=report["files"]["added"], seconds=report["seconds"])
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpus", type=Path, default=ROOT.parent / "shared/data/squad_v1.1/corpus.jsonl"
    )
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ingest_memory.json")
    parser.add_argument("extra", nargs="*", help="more arguments for `cited ingest`")
    args = parser.parse_args()

    lines = args.corpus.read_text().splitlines()
    passages = [json.loads(line) for line in lines if line.strip()][: args.limit]
    cited = str(Path(sys.executable).with_name("cited"))
    result: dict[str, Any] = {"passages": len(passages), "extra_args": args.extra}
    with tempfile.TemporaryDirectory() as top:
        folder = Path(top) / "corpus"
        folder.mkdir()
        for passage in passages:
            (folder / f"{passage['_id']}.txt").write_text(passage["text"])
        models = Path(top) / "models"  # empty: `cited prepare` fills it, as make install does
        for run in ("prepare", "ingest", "ingest_again"):
            env = {
                **os.environ,
                "CITED_DATA_DIR": str(Path(top) / run),
                "CITED_MODEL_CACHE_DIR": str(models),
            }
            env.pop("CITED_DATABASE_URL", None)
            command = [cited, "prepare"]
            if run != "prepare":
                command = [cited, "ingest", str(folder), "--json", *args.extra]
            result[run] = measure(command, env, Path(top) / f"{run}.out")
            print(run, json.dumps(result[run]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
