"""Would an int8 encoder do for ingestion? (issue 13, part 4: first measurement)

The bundled embedding model's ONNX export (index.onnx_fast, as questions use it) is
quantized dynamically to int8 (onnxruntime.quantization, per-channel weights), and every
chunk of the squad_v1.1 and scifact_beir benchmark stores (bench/.cache, built by
bench/quality.py) is embedded again with it and with the fp32 export (which matches the
stored vectors: `stored_vs_fp32_onnx_max_diff`). Dense retrieval is then measured with the
fp32 vectors and with the int8 ones, questions embedded by fp32 (today's query
path) and by int8 (the same encoder on both sides, as a recorded model change would
make it): recall@5 and nDCG@10 over documents (chunks of one document count once), and
the cosine between each chunk's two vectors. Also chunks per second of each encoder, in
batches of 32 sorted by length (the ingestion's shape). The target: at most 0.005 lower
than fp32 on both measures before int8 may be on by default.

    .venv/bin/python bench/int8_encoder.py [--variant channel|ffn] [--limit 2000]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from corpora import CACHE, DATA, ROOT, read_jsonl, read_qrels

from index import SentenceTransformerEmbedder, Store
from index.document_encoder import quantize_ffn
from index.embedder import resolve_model_path
from index.onnx_fast import OnnxEncoder, Sessions

BATCH = 32


def quantized(fp32: Path, variant: str) -> Path:
    """int8 weights per channel: every MatMul ("channel") or the feed-forward ones only
    ("ffn", index.document_encoder's int8 encoder: attention stays fp32, where small errors
    move the weighting of every token)."""
    if variant == "ffn":
        return quantize_ffn(fp32)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = fp32.with_name(f"{fp32.stem}.int8-{variant}.onnx")
    if not out.exists():
        quantize_dynamic(fp32, out, weight_type=QuantType.QInt8, per_channel=True)
    return out


def embed_all(encoder: OnnxEncoder, texts: list[str]) -> tuple[np.ndarray, float]:
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), 384), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, len(order), BATCH):
        rows = order[start : start + BATCH]
        out[rows] = encoder.embed([texts[i] for i in rows])
    return out, len(texts) / (time.perf_counter() - started)


def metrics(
    queries: np.ndarray, chunks: np.ndarray, owner: list[str], gold: list[dict[str, int]]
) -> dict[str, float]:
    hits5 = ndcg = 0.0
    for query, relevant in zip(queries, gold, strict=True):
        order = np.argsort(-(chunks @ query))[:100]
        ranked = list(dict.fromkeys(owner[i] for i in order))[:10]
        hits5 += any(doc in relevant for doc in ranked[:5])
        dcg = sum(relevant.get(d, 0) / math.log2(r + 1) for r, d in enumerate(ranked, 1))
        ideal = sum(
            g / math.log2(r + 1)
            for r, g in enumerate(sorted(relevant.values(), reverse=True)[:10], 1)
        )
        ndcg += dcg / ideal if ideal else 0.0
    return {"recall@5": round(hits5 / len(gold), 4), "ndcg@10": round(ndcg / len(gold), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=2000, help="questions per set")
    parser.add_argument("--variant", choices=["channel", "ffn"], default="channel")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder()
    model = embedder.model
    folder = CACHE / "int8_encoder"  # the fp32 export (as questions use it) and its int8 form
    fp32_encoder = OnnxEncoder.load(model, resolve_model_path(embedder.model_name), folder, 2)
    if fp32_encoder is None:
        raise SystemExit("the fp32 ONNX export is not available (see the log)")
    fp32_path = next(p for p in folder.glob("*.onnx") if ".int8" not in p.name)
    accepted = {"input_ids", "attention_mask", "token_type_ids"}
    inputs = [n for n in model.tokenizer.model_input_names if n in accepted]
    int8_encoder = OnnxEncoder(
        Sessions(__import__("onnxruntime"), quantized(fp32_path, args.variant), 2),
        model.tokenizer,
        inputs,
        int(model.max_seq_length),
    )
    result: dict[str, Any] = {"fp32_model": fp32_path.name, "variant": args.variant}
    for name in ("squad_v1.1", "scifact_beir"):
        store = Store(f"sqlite:///{CACHE / name / 'cited.db'}")
        try:
            ids = store.chunk_ids()
            rows = store.chunks_with_documents(ids.tolist())
            texts = [rows[int(i)][0].text for i in ids]
            owner = [Path(rows[int(i)][1].source).stem for i in ids]
            pages = list(store.iter_embeddings(384))  # in its own order: aligned by id
            row_of = {int(c): r for r, c in enumerate(np.concatenate([i for i, _ in pages]))}
            stored = np.concatenate([m for _, m in pages])[[row_of[int(i)] for i in ids]]
        finally:
            store.close()
        if name == "squad_v1.1":
            qs = random.Random(13).sample(read_jsonl(DATA / name / "queries.jsonl"), args.limit)
            questions = [q["text"] for q in qs]
            gold = [{q["gold_paragraph"]: 1} for q in qs]
        else:
            qrels = read_qrels(DATA / name / "qrels" / "test.tsv")
            qs = [q for q in read_jsonl(DATA / name / "queries.jsonl") if q["_id"] in qrels]
            questions = [q["text"] for q in qs]
            gold = [qrels[q["_id"]] for q in qs]
        fp32_vectors, fp32_rate = embed_all(fp32_encoder, texts)
        int8_vectors, int8_rate = embed_all(int8_encoder, texts)
        q32 = fp32_encoder.embed(questions)
        q8 = int8_encoder.embed(questions)
        cosine = np.sum(fp32_vectors * int8_vectors, axis=1)
        result[name] = {
            "chunks": len(texts),
            "questions": len(questions),
            "stored_vs_fp32_onnx_max_diff": round(float(np.abs(stored - fp32_vectors).max()), 6),
            "chunk_cosine_fp32_int8": {
                "mean": round(float(cosine.mean()), 5),
                "min": round(float(cosine.min()), 5),
            },
            "fp32": metrics(q32, fp32_vectors, owner, gold),
            "int8_chunks_fp32_questions": metrics(q32, int8_vectors, owner, gold),
            "int8_both": metrics(q8, int8_vectors, owner, gold),
            "chunks_per_s": {"fp32_onnx": round(fp32_rate, 1), "int8_onnx": round(int8_rate, 1)},
        }
        print(name, json.dumps(result[name]), flush=True)
    out = args.out or ROOT / f"bench/results/int8_encoder_{args.variant}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
