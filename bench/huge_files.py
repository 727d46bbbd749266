"""The worst case of a file whose parse is quick but whose text is huge (issue 21's four
shapes, at the sizes an outside campaign used), each beside a good file: how long until the
batch ends and the good file is stored, through `cited ingest` and through an upload, and
the memory the server holds meanwhile.

    .venv/bin/python bench/huge_files.py                      # this checkout
    .venv/bin/python bench/huge_files.py --code /tmp/before   # another checkout (git worktree)

A run that passes `--limit-s` is killed and recorded as such (the campaign saw no summary
after 300 s). Results: bench/results/huge_files[-LABEL].json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from corpora import ROOT

sys.path.insert(0, str(ROOT))
from tests.api.server import free_port
from tests.files import write_huge_text_files

GOOD = "The night ferry to Vigra leaves at 23:40 from pier 4.\n"
FULL = {"elements": 200_000, "line_bytes": 10_000_000, "cell_bytes": 5_000_000, "columns": 100_000}


class TreePeak(threading.Thread):
    """Peak resident memory of a process, and of it with its children, sampled."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.main = self.tree = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                main = self.process.memory_info().rss
                tree = main + sum(
                    c.memory_info().rss for c in self.process.children(recursive=True)
                )
            except psutil.Error:
                continue
            self.main, self.tree = max(self.main, main), max(self.tree, tree)

    def stop(self) -> dict[str, float]:
        self._halt.set()
        self.join()
        return {"peak_mb": round(self.main / 2**20), "peak_tree_mb": round(self.tree / 2**20)}


def command(code: Path, *args: str) -> list[str]:
    """`cited ARGS` run from the checkout at `code`."""
    return [sys.executable, "-c", "from api.cli import main; main()", *args]


def environment(code: Path, data: Path) -> dict[str, str]:
    env = {**os.environ, "CITED_DATA_DIR": str(data), "PYTHONPATH": str(code)}
    env.pop("CITED_DATABASE_URL", None)
    return env


def by_cli(code: Path, folder: Path, data: Path, limit_s: float) -> dict[str, Any]:
    started = time.monotonic()
    run = subprocess.Popen(
        [*command(code, "ingest", str(folder), "--json")],
        env=environment(code, data),
        cwd=code,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    peak = TreePeak(run.pid)
    peak.start()
    try:
        out, _ = run.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        run.kill()
        run.communicate()
        return {"ended": False, "seconds": limit_s, **peak.stop()}
    seconds = round(time.monotonic() - started, 1)
    report = json.loads(out)
    outcomes = {Path(o["source"]).name: [o["status"], o["reason"]] for o in report["outcomes"]}
    return {"ended": True, "seconds": seconds, "outcomes": outcomes, **peak.stop()}


def by_upload(code: Path, folder: Path, data: Path, limit_s: float) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = data.parent / "server.log"
    data.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink:
        server = subprocess.Popen(
            command(code, "serve", "--port", str(port)),
            env=environment(code, data),
            cwd=code,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start: " + log.read_text())
            time.sleep(0.3)
        ready_mb = round(psutil.Process(server.pid).memory_info().rss / 2**20)
        peak = TreePeak(server.pid)
        peak.start()
        files = [
            ("files", (p.name, p.read_bytes(), "application/octet-stream"))
            for p in sorted(folder.iterdir())
        ]
        started = time.monotonic()
        try:
            response = httpx.post(
                base + "/v1/documents", params={"wait": "true"}, files=files, timeout=limit_s
            )
        except httpx.TimeoutException:
            return {"ended": False, "seconds": limit_s, "ready_mb": ready_mb, **peak.stop()}
        seconds = round(time.monotonic() - started, 1)
        job = response.json()
        outcomes = {f["name"]: [f["status"], f["reason"]] for f in job["files"]}
        return {
            "ended": True,
            "seconds": seconds,
            "ready_mb": ready_mb,
            "outcomes": outcomes,
            **peak.stop(),
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run")
    parser.add_argument("--label", default="", help="suffix of the results file")
    parser.add_argument("--limit-s", type=float, default=600.0, help="per run")
    parser.add_argument("--only", nargs="*", help="file names to run (default: all four)")
    parser.add_argument("--ways", nargs="*", default=["cli", "upload"])
    args = parser.parse_args()
    results: dict[str, Any] = {"code": str(args.code), "limit_s": args.limit_s, "files": {}}
    out = ROOT / "bench" / "results" / f"huge_files{'-' + args.label if args.label else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as top:
        made = write_huge_text_files(Path(top) / "all", **FULL)
        for name, path in made.items():
            if args.only and name not in args.only:
                continue
            folder = Path(top) / name / "in"
            folder.mkdir(parents=True)
            path.rename(folder / name)
            (folder / "ferry.txt").write_text(GOOD)
            entry: dict[str, Any] = {"bytes": (folder / name).stat().st_size}
            for way in args.ways:
                data = Path(top) / name / way / "data"
                run = by_cli if way == "cli" else by_upload
                entry[way] = run(args.code, folder, data, args.limit_s)
                print(name, way, json.dumps(entry[way]), flush=True)
            results["files"][name] = entry
            out.write_text(json.dumps(results, indent=2) + "\n")  # after each: runs are long
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
