"""ANLI dev rounds 1-3 (facebookresearch/anli, CC BY-NC 4.0: evaluation only, so the
converted files stay out of the repository, see .gitignore) as dev_r1.jsonl ... dev_r3.jsonl:
{"label": "entailment" | "neutral" | "contradiction", "premise", "hypothesis"} per line.

    python training/sets/anli/convert.py SNAPSHOT_GIT_DIR

SNAPSHOT_GIT_DIR is a snapshot of https://github.com/facebookresearch/anli (a bare git
directory; its data/ is downloaded at run time, so the dev sets are read from the
analysis files under anlizinganli/, which carry every dev pair and its gold label).
training.evaluate reports ANLI when these files exist and says how to make them when not.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

PATH = "anlizinganli/anli_annot_v0.2/ANLI_analysis_{round}_dev.csv"
LABELS = {"e": "entailment", "n": "neutral", "c": "contradiction"}


def main(snapshot: str) -> None:
    counts = {}
    for round_ in ("r1", "r2", "r3"):
        raw = subprocess.run(
            ["git", "--git-dir", snapshot, "show", f"HEAD:{PATH.format(round=round_)}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        rows = [
            {
                "label": LABELS[r["gold_label"]],
                "premise": r["context"],
                "hypothesis": r["statement"],
            }
            for r in csv.DictReader(io.StringIO(raw))
            if r["gold_label"] in LABELS
        ]
        out = Path(__file__).with_name(f"dev_{round_}.jsonl")
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        counts[round_] = len(rows)
    print(json.dumps(counts))


if __name__ == "__main__":
    main(sys.argv[1])
