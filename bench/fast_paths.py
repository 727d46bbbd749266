"""Faster forms of the reading models, against the fp32 ONNX export the product runs:
how far their probabilities move, how many decisions they flip at the product's thresholds,
what that does to the held-out measures, and milliseconds per pair.

Forms:
- fp32: the export answer.onnx_pairs makes (the reference);
- fused: the same fp32 graph through onnxruntime's transformer optimizer (attention,
  layer norm and GELU fused into single kernels; the arithmetic is unchanged);
- int8: dynamic quantization of every MatMul weight (per tensor), of the fused graph;
- int8-channel: the same, one scale per output channel;
- int8-ffn: only the feed-forward MatMuls (two thirds of the weights), attention in fp32.

Pairs (none trained on): support: BEGIN test, WiCE test, SciFact (evidence, claim) pairs
as the product reads them (the first `--pairs` of each, shuffled with a fixed seed);
answer: every (question, sentence) pair of the SQuAD 2.0 *test* articles' first
`--questions` questions. Speed: the pairs in batches of 32 sorted by length, as
PairScorer batches them, on an otherwise idle machine (run it alone).
Results: bench/results/fast_paths.json.

    .venv/bin/python bench/fast_paths.py [--pairs 600] [--questions 300]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from answer.extractive import answer_pair  # noqa: E402
from answer.models import WEIGHTS, PairScorer  # noqa: E402
from answer.onnx_pairs import OnnxPairs  # noqa: E402
from ingest import offline  # noqa: E402
from training.data import squad  # noqa: E402
from training.evaluate import GATE, balanced, support_sets  # noqa: E402

BATCH = 32
FFN = ("intermediate/dense", "output/dense")


def forms(fp32: Path, out: Path) -> dict[str, Path]:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    fused = out / f"{fp32.stem}.fused.onnx"
    if not fused.exists():
        optimized = optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384)
        optimized.save_model_to_file(str(fused))
    paths = {"fp32": fp32, "fused": fused}
    import onnx

    matmuls = [n.name for n in onnx.load(str(fused)).graph.node if n.op_type == "MatMul"]
    variants: dict[str, dict[str, Any]] = {
        "int8": {},
        "int8-channel": {"per_channel": True},
        "int8-ffn": {"nodes_to_quantize": [n for n in matmuls if any(f in n for f in FFN)]},
    }
    for name, options in variants.items():
        path = out / f"{fp32.stem}.{name}.onnx"
        if not path.exists():
            quantize_dynamic(
                str(fused),
                str(path),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
                extra_options={"DefaultTensorType": 1},  # float: fused ops hide types
                **options,
            )
        paths[name] = path
    return paths


def run(session: Any, tokenizer: Any, pairs: list[tuple[str, str]], max_length: int) -> Any:
    """(probabilities in the input order, seconds)."""
    names = [i.name for i in session.get_inputs()]
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    logits: list[Any] = [None] * len(pairs)
    started = time.perf_counter()
    for start in range(0, len(order), BATCH):
        rows = order[start : start + BATCH]
        features = tokenizer(
            [pairs[i][0] for i in rows],
            [pairs[i][1] for i in rows],
            truncation="longest_first",
            max_length=max_length,
            padding=True,
            return_tensors="np",
        )
        out = session.run(None, {n: features[n].astype(np.int64) for n in names})[0]
        for i, row in zip(rows, out, strict=True):
            logits[i] = row
    seconds = time.perf_counter() - started
    stacked = np.stack(logits).astype(np.float64)
    if stacked.shape[1] == 1:
        return 1 / (1 + np.exp(-stacked[:, 0])), seconds
    exp = np.exp(stacked - stacked.max(1, keepdims=True))
    return exp / exp.sum(1, keepdims=True), seconds


def support_pairs(limit: int) -> dict[str, list[tuple[str, str, str]]]:
    out = {}
    for name, rows in support_sets().items():
        rows = list(rows)
        random.Random(7).shuffle(rows)
        out[name] = rows[:limit]
    return out


def answer_pairs(limit: int) -> tuple[list[tuple[str, str]], list[int], list[bool]]:
    """Pairs, the question each belongs to, and which questions are answerable."""
    questions = squad("v2", "test")
    random.Random(7).shuffle(questions)
    pairs, owner, answerable = [], [], []
    for n, q in enumerate(questions[:limit]):
        sentences = [q.paragraph.context[s:e] for s, e in q.paragraph.sentences]
        pairs += [(q.text, answer_pair(sentences, i)) for i in range(len(sentences))]
        owner += [n] * len(sentences)
        answerable.append(not q.impossible)
    return pairs, owner, answerable


def measure_support(scorer: PairScorer, paths: dict[str, Path], limit: int) -> dict[str, Any]:
    import onnxruntime

    model = scorer.loaded
    supported = model.labels.index("supported")
    sets = support_pairs(limit)
    pairs = [(ev, claim) for rows in sets.values() for ev, claim, _ in rows]
    out: dict[str, Any] = {}
    reference: Any = None
    for name, path in paths.items():
        session = _session(onnxruntime, path)
        run(session, model.tokenizer, pairs[:64], model.max_length)  # warm-up
        probs, seconds = run(session, model.tokenizer, pairs, model.max_length)
        p = probs[:, supported]
        if reference is None:
            reference = probs
        at = 0
        per_set = {}
        for set_name, rows in sets.items():
            mine = p[at : at + len(rows)]
            at += len(rows)
            per_set[set_name] = balanced(
                ["s" if label == "supported" else "r" for _, _, label in rows],
                ["s" if x >= GATE else "r" for x in mine],
            )
        out[name] = {
            "ms_per_pair": round(seconds * 1000 / len(pairs), 2),
            "max_abs_diff": round(float(np.abs(probs - reference).max()), 4),
            "mean_abs_diff": round(float(np.abs(probs - reference).mean()), 5),
            "gate_flipped": round(
                float(np.mean((p >= GATE) != (reference[:, supported] >= GATE))), 4
            ),
            "balanced_accuracy": per_set,
        }
        print("support", name, json.dumps(out[name]), flush=True)
    return {"pairs": len(pairs), "forms": out}


def measure_answer(scorer: PairScorer, paths: dict[str, Path], limit: int) -> dict[str, Any]:
    import onnxruntime

    model = scorer.loaded
    threshold = model.threshold or 0.5
    pairs, owner, answerable = answer_pairs(limit)
    out: dict[str, Any] = {}
    reference: Any = None
    for name, path in paths.items():
        session = _session(onnxruntime, path)
        run(session, model.tokenizer, pairs[:64], model.max_length)
        probs, seconds = run(session, model.tokenizer, pairs, model.max_length)
        best = np.zeros(len(answerable))
        np.maximum.at(best, np.asarray(owner), probs)
        if reference is None:
            reference = (probs, best)
        answered = best >= threshold
        yes = np.asarray(answerable)
        out[name] = {
            "ms_per_pair": round(seconds * 1000 / len(pairs), 2),
            "max_abs_diff": round(float(np.abs(probs - reference[0]).max()), 4),
            "mean_abs_diff": round(float(np.abs(probs - reference[0]).mean()), 5),
            "abstention_flipped": round(float(np.mean(answered != (reference[1] >= threshold))), 4),
            "answerable_answered": round(float(answered[yes].mean()), 4),
            "unanswerable_declined": round(float((~answered[~yes]).mean()), 4),
        }
        print("answer", name, json.dumps(out[name]), flush=True)
    return {"pairs": len(pairs), "questions": len(answerable), "forms": out}


def _session(onnxruntime: Any, path: Path) -> Any:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=600, help="per support set")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--tasks", default="support,answer")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/fast_paths.json")
    args = parser.parse_args()
    offline.set_environment()
    cache = ROOT / "bench" / ".cache" / "fast_paths"
    results: dict[str, Any] = {}
    for task in args.tasks.split(","):
        scorer = PairScorer(task, weights=args.weights)  # type: ignore[arg-type]
        model = scorer.loaded
        fast = OnnxPairs.load(model.network, model.tokenizer, model.key, cache, 2)
        if fast is None:
            raise SystemExit(f"no ONNX export of the {task} model; see the log")
        paths = forms(cache / f"{model.key}.onnx", cache)
        if task == "support":
            results[task] = measure_support(scorer, paths, args.pairs)
        else:
            results[task] = measure_answer(scorer, paths, args.questions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
