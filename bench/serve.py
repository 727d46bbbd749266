"""HTTP throughput and latency of extractive /v1/ask over the squad_v1.1 index, with 1, 8 and
32 concurrent clients. `cited serve` runs in its own process, as deployed; the clients are
one asyncio process (httpx), each sending its next question as soon as its answer is in.
Every question is asked once (no answer is served from a warm cache of that question).
Results: bench/results/serve.json.

    .venv/bin/python bench/serve.py [--seconds 30] [--clients 1,8,32]

The load generator shares the machine with the server (2 cores here), so the numbers are
a floor for a server with the machine to itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from corpora import ROOT, prepare

WARMUP = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(data_dir: Path, log: Path) -> Iterator[str]:
    """`cited serve` on `data_dir` in its own process, as deployed: its base URL once ready.
    Its output goes to `log`."""
    with server_process(data_dir, log) as (base, _):
        yield base


@contextmanager
def server_process(data_dir: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As `running`, with the server's process (for what measures it)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CITED_DATA_DIR": str(data_dir), "CITED_LOG_LEVEL": "warning"}
    with log.open("w") as sink:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("cited")), "serve", "--port", str(port)],
            env=env,
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
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples) or [0.0]

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99), "max_ms": at(1.0)}


async def level(base: str, clients: int, seconds: float, questions: list[str]) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    abstained = 0
    pending = iter(questions)
    deadline = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal abstained
        while time.perf_counter() < deadline:
            question = next(pending)
            started = time.perf_counter()
            try:
                response = await http.post("/v1/ask", json={"question": question})
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
            elif response.json()["abstained"]:
                abstained += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "seconds": round(elapsed, 1),
        "asks_per_s": round(len(latencies) / elapsed, 1),
        **percentiles(latencies),
        "errors": errors,
        "abstained_share": round(abstained / max(1, len(latencies)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/serve.json")
    args = parser.parse_args()

    corpus = prepare("squad_v1.1")
    questions = [q["text"] for q in corpus.queries]
    random.Random(11).shuffle(questions)
    log = ROOT / "bench/results/serve.log"
    with running(corpus.settings.data_dir, log) as base:
        for question in questions[:WARMUP]:
            httpx.post(base + "/v1/ask", json={"question": question}, timeout=60)
        offset = WARMUP
        levels = []
        for clients in (int(c) for c in args.clients.split(",")):
            batch = questions[offset:]
            result = asyncio.run(level(base, clients, args.seconds, batch))
            offset += result["requests"] + sum(result["errors"].values()) + clients
            levels.append(result)
            print(json.dumps(result))
    output = {
        "index": "squad_v1.1",
        "levels": levels,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    args.out.write_text(json.dumps(output, indent=2) + "\n")
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
