"""What the language-model judge (CITED_SUPPORT_JUDGE=llm) costs per answer: how many of an
answer's sentences fall in its uncertain band and go to the judge, how many requests that
makes, and the time the check takes with it, against the support model alone.

The sets are bench/support.py's (claim/evidence pairs people labelled), checked eight at a
time as an answer's sentences are. No language model runs here, so the judge is a local
OpenAI-protocol server answering at once with one verdict per pair (its reply's verdicts
are not measured: a scripted judge is right by construction); the time it adds is the
check's own overhead, to which a real model's latency per request is added. Results:
bench/results/judge.json.

    .venv/bin/python bench/judge.py [--limit N] [--low 0.2] [--high 0.8]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from support import as_passage  # noqa: E402  (bench/support.py)

from answer import ChatClient, PairScorer, SupportChecker, SupportJudge  # noqa: E402
from ingest import offline  # noqa: E402
from tests.openai_stub import Reply, serve  # noqa: E402
from training.evaluate import support_sets  # noqa: E402

ANSWER = 8  # pairs checked together, as one answer's sentences are


def supported_all(messages: list[dict[str, str]]) -> Reply:
    pairs = messages[-1]["content"].count("QUOTE:")
    return Reply(json.dumps(["supported"] * pairs))


def timed(checker: SupportChecker, data: list[tuple[str, str, str]]) -> float:
    started = time.perf_counter()
    for start in range(0, len(data), ANSWER):
        batch = data[start : start + ANSWER]
        checker.check_many([(claim, as_passage(ev)) for ev, claim, _ in batch])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=400, help="pairs of each set")
    parser.add_argument("--low", type=float, default=0.2)
    parser.add_argument("--high", type=float, default=0.8)
    args = parser.parse_args()
    offline.set_environment()
    model = PairScorer("support", fast_path_dir=ROOT / "bench" / ".cache" / "models")
    results: dict[str, Any] = {"band": [args.low, args.high], "answer_pairs": ANSWER}
    with serve() as stub:
        stub.script = supported_all
        client = ChatClient(stub.base_url, "judge", timeout=10.0, retries=0)
        for name, data in support_sets().items():
            data = random.Random(0).sample(data, min(args.limit, len(data)))
            timed(SupportChecker(model), data[:ANSWER])  # the model loaded, warm
            alone = timed(SupportChecker(model), data)
            judge = SupportJudge(client, args.low, args.high)
            before = len(stub.requests)
            judged = timed(SupportChecker(model, judge=judge), data)
            sent = sum(
                m["content"].count("QUOTE:")
                for r in stub.requests[before:]
                for m in r["messages"][-1:]
            )
            answers = -(-len(data) // ANSWER)
            results[name] = {
                "pairs": len(data),
                "pairs_sent_share": round(sent / len(data), 3),
                "requests_per_answer": round(judge.calls / answers, 3),
                "ms_per_answer_model_alone": round(1000 * alone / answers, 1),
                "ms_per_answer_with_judge_overhead": round(1000 * judged / answers, 1),
            }
            print(name, json.dumps(results[name]), flush=True)
        client.close()
    out = ROOT / "bench" / "results" / "judge.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
