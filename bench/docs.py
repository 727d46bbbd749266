"""cited's own documentation as a corpus (what `make run` ingests) and the question set
written over it (docs/questions.jsonl: how-to questions as users ask them, and questions
the documentation does not answer), through `cited eval`'s evaluator. The set is text
unlike the models' training data. Results: bench/results/docs.json.

    .venv/bin/python bench/docs.py [--mode extractive|generative]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from corpora import CACHE, ROOT

from answer.evaluation import Evaluator, read_questions, render
from api import wiring
from api.settings import Settings
from ingest import LogProgress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/docs.json")
    args = parser.parse_args()
    settings = Settings(data_dir=CACHE / "docs", collection="default")
    store = wiring.open_store(settings)
    try:
        kb = wiring.knowledge_base(settings, store)
        embedder = wiring.embedder(settings)
        report = wiring.ingestor(settings, kb, embedder, LogProgress()).run(
            [ROOT / "docs"], "default", prune=True
        )
        kb.flush()
        questions = read_questions(
            (ROOT / "docs" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        )
        qa = wiring.question_answerer(settings, wiring.retriever(settings, kb, embedder))
        qa.warm_up()
        result = Evaluator(qa, kb.document_text, mode=args.mode).run(questions)
        print(render(result))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"ingest_failed": len(report.failed), **result.to_dict()}, indent=2) + "\n"
        )
    finally:
        store.close()


if __name__ == "__main__":
    main()
