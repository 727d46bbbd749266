"""DocNLI's binary MNLI and FEVER-NLI (salesforce/DocNLI, BSD-3-Clause) as gzipped JSONL:
{"label": "entailment" | "not_entailment", "premise", "hypothesis"} per line.

    python training/sets/docnli_binary/convert.py SNAPSHOT_GIT_DIR

SNAPSHOT_GIT_DIR is a snapshot of https://github.com/salesforce/DocNLI (a bare git
directory). Its train files, over 4 MiB, are not in the snapshots: the dev and test files
are what there is (no evaluation here uses them). Text is kept as published.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

FILES = {
    "mnli": "Data/binary-MNLI/{split}.txt",
    "fever": "Data/binary-FEVER-NLI/{split}.txt",
}
LABELS = {"entailment", "not_entailment"}


def main(snapshot: str) -> None:
    counts = {}
    for name, pattern in FILES.items():
        for split in ("dev", "test"):
            raw = subprocess.run(
                ["git", "--git-dir", snapshot, "show", f"HEAD:{pattern.format(split=split)}"],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            rows = []
            for line in raw.splitlines():
                label, premise, hypothesis = line.split("\t")
                if label not in LABELS:
                    raise ValueError(f"{name} {split}: unknown label {label!r}")
                rows.append({"label": label, "premise": premise, "hypothesis": hypothesis})
            out = Path(__file__).with_name(f"{name}_{split}.jsonl.gz")
            with gzip.GzipFile(out, "wb", mtime=0) as handle:  # mtime 0: the same bytes each run
                for row in rows:
                    handle.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
            counts[f"{name}_{split}"] = len(rows)
    print(json.dumps(counts))


if __name__ == "__main__":
    main(sys.argv[1])
