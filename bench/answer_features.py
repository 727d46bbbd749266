"""Every quotable sentence of the retrieved passages, with what a decision rule could read:
the answer model's P(answers) of each (not only the cheap shortlist's), the cosine of the
question's and the sentence's embeddings, the cheap score, the passage's rank and
similarity; each marked whether it holds an expected phrase. It measured whether reading every
sentence (not the cheap shortlist), or ranking by the answer model's logit plus the
embedding cosine, picks the answering sentence more often on bench/kinds
(docs/models.md, "Tried and not shipped"); the decision actually shipped is calibrated by
training/calibrate.py.

    .venv/bin/python bench/answer_features.py     # -> bench/results/answer_features.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from corpora import CACHE, ROOT, read_jsonl
from kinds import HERE, KINDS, contains

from answer.types import PassagesEvent
from api import wiring
from api.settings import Settings
from index import Scope
from ingest import LogProgress


def features(qa: Any, embedder: Any, row: dict[str, Any], collection: str | None) -> dict[str, Any]:
    question = row["question"]
    expect = row["expect"]
    passages = ()
    for event in qa.stream(question, scope=Scope(collection=collection)):
        if isinstance(event, PassagesEvent):
            passages = tuple(event.passages)
            break
    answerer = qa.extractive
    shortlist = {c.text for c in answerer.candidates(question, passages)}
    every = answerer.candidates(question, passages, shortlist=10**9)  # every sentence
    sentences = []
    if every:
        probabilities = answerer.model.probabilities([(question, c.pair) for c in every])
        answers = answerer.model.column(probabilities, "answers")
        q = embedder.embed_query(question)
        vectors = embedder.embed_documents([c.text for c in every])
        cosines = vectors @ q
        for c, p, cos in zip(every, answers, cosines, strict=True):
            sentences.append(
                {
                    "text": c.text,
                    "p": round(float(p), 4),
                    "cos": round(float(cos), 4),
                    "cheap": round(c.cheap, 4),
                    "passage": c.passage,
                    "similarity": round(passages[c.passage].similarity, 4),
                    "shortlisted": c.text in shortlist,
                    "expected": None if expect is None else contains(c.text, expect),
                }
            )
    return {
        **{k: row.get(k) for k in ("kind", "split", "source", "question", "expect")},
        "retrieved": None if expect is None else any(contains(p.text, expect) for p in passages),
        "similarities": [round(p.similarity, 4) for p in passages],
        "sentences": sentences,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/answer_features.json")
    args = parser.parse_args()
    rows = list(read_jsonl(HERE / "questions.jsonl"))
    docs_rows = [
        {
            "kind": "cited-docs",
            "split": "test",
            "source": r.get("source"),
            "question": r["question"],
            "expect": None if r.get("unanswerable") else r["answers"],
        }
        for r in read_jsonl(ROOT / "docs/questions.jsonl")
    ]
    settings = Settings(data_dir=CACHE / "kinds")
    store = wiring.open_store(settings)
    try:
        kb = wiring.knowledge_base(settings, store)
        embedder = wiring.embedder(settings)
        ingestor = wiring.ingestor(settings, kb, embedder, LogProgress())
        for kind in KINDS:
            ingestor.run([HERE / kind], kind, prune=True)
        ingestor.run([ROOT / "docs"], "cited-docs", prune=True)
        kb.flush()
        qa = wiring.question_answerer(settings, wiring.retriever(settings, kb, embedder))
        qa.warm_up()
        out = [features(qa, embedder, r, r["kind"]) for r in rows + docs_rows]
    finally:
        store.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out) + "\n")
    print(len(out), "questions,", sum(len(o["sentences"]) for o in out), "sentences ->", args.out)


if __name__ == "__main__":
    main()
