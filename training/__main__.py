"""`python -m training [answer|support|all]`: trains the reading models, writes their deltas
and checksums to answer/weights/, calibrates the answer decision across kinds of text
(training.calibrate), then prints their evaluation table (training.evaluate).

    .venv/bin/python -m training all            # what `make models` runs
    .venv/bin/python -m training support --steps 20 --out /tmp/w   # a quick smoke run
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from answer.models import ANSWER_LABELS, MANIFEST, SUPPORT_LABELS, WEIGHTS, sha256
from training import answer_set, loop, lora, support_set

ROOT = Path(__file__).resolve().parent.parent
FULL_LEARNING_RATE = 4e-5  # full fine-tuning moves every weight: a tenth of the adapters' rate
CONFIGS = {
    # the shipped support model: every weight fine-tuned (not adapters), DocNLI in its data
    "support": loop.TrainConfig(
        task="support",
        labels=SUPPORT_LABELS,
        epochs=0.8,
        max_length=160,
        full=True,
        learning_rate=FULL_LEARNING_RATE,
    ),
    "answer": loop.TrainConfig(task="answer", labels=ANSWER_LABELS, epochs=1.0, max_length=128),
}


def build(task: str, seed: int, extra: tuple[str, ...]) -> list:  # type: ignore[type-arg]
    if task == "support":
        return support_set.examples(seed, tuple(e for e in extra if e in support_set.EXTRA))
    return answer_set.examples(seed, tuple(e for e in extra if e in answer_set.EXTRA))


def write_manifest(out: Path, task: str, file: str, extra: dict) -> None:  # type: ignore[type-arg]
    path = out / MANIFEST.name
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    manifest[task] = {"file": file, "sha256": sha256(out / file), **extra}
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("task", choices=["answer", "support", "all"])
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--work", type=Path, default=ROOT / ".training")
    parser.add_argument("--steps", type=int, default=0, help="stop after N steps (smoke runs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-eval", action="store_true")
    parser.add_argument("--full", action="store_true", help="fine-tune every weight (not adapters)")
    parser.add_argument("--epochs", type=float, default=0.0, help="override the task's epochs")
    parser.add_argument(
        "--extra",
        default="",
        help="comma-separated sets beyond the shipped mix: faq (answer)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    tasks = ["support", "answer"] if args.task == "all" else [args.task]
    for task in tasks:
        config = replace(CONFIGS[task], max_steps=args.steps)
        if args.full:
            config = replace(config, full=True, learning_rate=FULL_LEARNING_RATE)
        if args.epochs:
            config = replace(config, epochs=args.epochs)
        extra = tuple(e for e in args.extra.split(",") if e)
        unknown = set(extra) - set(support_set.EXTRA) - set(answer_set.EXTRA)
        if unknown:
            parser.error(
                f"unknown --extra {', '.join(sorted(unknown))}; known: {', '.join(sorted(set(support_set.EXTRA) | set(answer_set.EXTRA)))}"
            )
        examples = build(task, config.seed, extra)
        print(json.dumps({"task": task, "examples": len(examples)}), flush=True)
        started = time.perf_counter()
        network = loop.train(examples, config, args.work)
        file = f"{task}.safetensors"
        meta = {k: v for k, v in asdict(config).items() if k not in ("labels", "task")}
        meta.update(task=task, base="all-MiniLM-L6-v2")
        lora.save_delta(network, args.out / file, meta, config.labels)
        write_manifest(
            args.out, task, file, {"train_minutes": round((time.perf_counter() - started) / 60, 1)}
        )
        print(json.dumps({"task": task, "saved": str(args.out / file)}), flush=True)
    if "answer" in tasks and not args.steps:
        from training import calibrate

        calibrate.main(["--weights", str(args.out)])
    if not args.no_eval:
        from training import evaluate

        evaluate.main(["--weights", str(args.out), *tasks])


if __name__ == "__main__":
    main()
