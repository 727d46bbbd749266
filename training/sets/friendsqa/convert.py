"""FriendsQA (emorynlp/FriendsQA, Apache-2.0) as scenes of dialogue text with character
offsets of each question's answers: one JSON object per scene in friendsqa.jsonl.

    python training/sets/friendsqa/convert.py SNAPSHOT_GIT_DIR

SNAPSHOT_GIT_DIR is a snapshot of https://github.com/emorynlp/FriendsQA (a bare git
directory; the train file, over 4 MiB, is not in the snapshots). The dialogue is
tokenised in the source ("I do n't", "gon na"); it is written back as people write it,
each utterance a paragraph "Speaker: text", so that the sentences read as a transcript
does to cited.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FILES = ("dat/friendsqa_dev.json", "dat/friendsqa_tst.json")
NO_SPACE_BEFORE = {".", ",", "!", "?", ";", ":", ")", "...", "n't", "'s", "'re", "'ll", "'ve",
                   "'m", "'d", "%"}  # fmt: skip
NO_SPACE_AFTER = {"(", "$"}
JOINED = {("gon", "na"), ("wan", "na"), ("got", "ta")}


def detokenized(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """The tokens as written text, and each token's (start, end) in it."""
    out, spans = "", []
    for i, token in enumerate(tokens):
        glued = i == 0 or out[-1:] in NO_SPACE_AFTER
        if token in NO_SPACE_BEFORE or (tokens[i - 1], token) in JOINED:
            glued = True
        if not glued:
            out += " "
        spans.append((len(out), len(out) + len(token)))
        out += token
    return out, spans


def scene(title: str, paragraph: dict) -> dict:  # type: ignore[type-arg]
    text, lines = "", {}
    for utterance in paragraph["utterances:"]:
        speaker = " & ".join(utterance["speakers"]) or "Someone"
        body, spans = detokenized(utterance["utterance"].split(" "))
        start = len(text) + (2 if text else 0)
        text += ("\n\n" if text else "") + f"{speaker}: {body}"
        head = start + len(speaker) + 2
        lines[utterance["uid"]] = (start, head, [(head + s, head + e) for s, e in spans])
    questions = []
    for qa in paragraph["qas"]:
        answers = []
        for answer in qa["answers"]:
            start, head, spans = lines[answer["utterance_id"]]
            if answer["is_speaker"] or answer["inner_start"] < 0:
                answers.append([start, head - 2])
            else:
                answers.append([spans[answer["inner_start"]][0], spans[answer["inner_end"]][1]])
        question, _ = detokenized(qa["question"].split(" "))
        questions.append({"id": qa["id"], "question": question, "answers": answers})
    return {"scene": title, "episode": title.rsplit("_", 1)[0], "text": text,
            "questions": questions}  # fmt: skip


def main(snapshot: str) -> None:
    out = Path(__file__).with_name("friendsqa.jsonl")
    rows = []
    for name in FILES:
        raw = subprocess.run(
            ["git", "--git-dir", snapshot, "show", f"HEAD:{name}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        for article in json.loads(raw)["data"]:
            rows += [scene(article["title"], p) for p in article["paragraphs"]]
    rows.sort(key=lambda r: r["scene"])
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(json.dumps({"scenes": len(rows), "questions": sum(len(r["questions"]) for r in rows)}))


if __name__ == "__main__":
    main(sys.argv[1])
