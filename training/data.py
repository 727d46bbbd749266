"""Training and evaluation examples for the reading models, from ../shared/data.

SQuAD (v1.1 and the SQuAD 2.0 cs224n dev, which share articles) is split **by article**,
jointly over both sets, so no held-out article is ever trained on:

    train  : articles whose SHA-1 bucket is below 60 (SQuAD 2.0 articles: below 45)
    calib  : SQuAD 2.0 articles in [45, 65): the answer model's abstention threshold is
             calibrated there, never on test
    test   : the rest; bench/ measures the targets on them

SciFact is never read here for training (non-commercial: evaluation only).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from answer.text import sentence_spans

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SETS = Path(__file__).resolve().parent / "sets"  # sets this project converted, kept here
Split = Literal["train", "calib", "test"]


@dataclass(frozen=True)
class Example:
    first: str  # question, or quote
    second: str  # candidate sentence (with its context), or claim
    label: int  # index into the model's labels (answer model: 1 answers, 0 does not)
    source: str  # which set it came from


@dataclass(frozen=True)
class Paragraph:
    title: str
    context: str
    sentences: tuple[tuple[int, int], ...]  # spans in context


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[str, ...]
    starts: tuple[int, ...]  # answer offsets in the paragraph (empty: unanswerable)
    paragraph: Paragraph
    impossible: bool


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL file, gzipped (.gz) or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def bucket(title: str) -> int:
    return int(hashlib.sha1(title.encode("utf-8")).hexdigest(), 16) % 100


def split_of(title: str, in_v2: bool) -> Split:
    b = bucket(title)
    if in_v2:
        return "train" if b < 45 else "calib" if b < 65 else "test"
    return "train" if b < 60 else "test"


def squad(version: Literal["v1.1", "v2"], split: Split, data: Path = DATA) -> list[Question]:
    """Questions of one SQuAD set on the articles of `split`."""
    v2_titles = {a["title"] for a in _squad_json("v2", data)}
    out: list[Question] = []
    for article in _squad_json(version, data):
        if split_of(article["title"], article["title"] in v2_titles) != split:
            continue
        for para in article["paragraphs"]:
            context = para["context"]
            paragraph = Paragraph(article["title"], context, tuple(sentence_spans(context)))
            for qa in para["qas"]:
                impossible = bool(qa.get("is_impossible"))
                answers = () if impossible else tuple(a["text"] for a in qa["answers"])
                starts = () if impossible else tuple(a["answer_start"] for a in qa["answers"])
                out.append(Question(qa["question"], answers, starts, paragraph, impossible))
    return out


def _squad_json(version: str, data: Path) -> list[dict[str, Any]]:
    path = (
        data / "squad_v1.1" / "dev-v1.1.json"
        if version == "v1.1"
        else data / "squad_v2.0_cs224n_dev" / "dev-v2.0.json"
    )
    articles: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["data"]
    return articles


def answer_sentence_ids(question: Question) -> set[int]:
    """The sentences of the paragraph that hold an answer's start."""
    ids = set()
    for start in question.starts:
        for i, (s, e) in enumerate(question.paragraph.sentences):
            if s <= start < e:
                ids.add(i)
    return ids


def selqa(split: Literal["dev", "test"], data: Path = DATA) -> list[dict[str, Any]]:
    rows = []
    for row in read_jsonl(data / "train" / "selqa_ass" / f"{split}.jsonl"):
        candidates = row["candidates"]
        if isinstance(candidates, str):
            candidates = json.loads(candidates)
        rows.append(
            {"question": row["question"], "candidates": candidates, "answers": row["answers"]}
        )
    return rows


def shuffled(items: list[Any], seed: int) -> list[Any]:
    items = list(items)
    random.Random(seed).shuffle(items)
    return items
