"""Multi-turn conversations over a small company handbook: are follow-up questions
("where are their batteries charged?", "and the other parent?") answered as well as the
questions they lean on?

The handbook (bench/conversations/handbook/, written for this bench) is ingested once with
the default settings into bench/.cache/conversations/. The question answerer is the
server's (api.wiring, extractive mode, no language model). Each conversation of
bench/conversations/conversations.jsonl is played as the chat page plays it: the history
sent with a question is the earlier turns, each the question as it was searched (the
answer's `question`) and the answer's text, at most the last six messages (web/static/chat.js);
the question is made standalone with `QuestionAnswerer.standalone`, then asked.

A turn is correct when it expects nothing (`expect` null) and the answer abstained, or when
the answer did not abstain and contains one of the `expect` phrases (case-insensitive).
The ceiling asks each turn's hand-written standalone paraphrase (the question itself for
first turns) without history: what a perfect rewrite of the follow-ups could reach.
Results: bench/results/conversations.json.

    .venv/bin/python bench/conversations.py

Deliberately not done: generative mode (it needs a language model server), judging the
cited quotes (the answer's text is what a user reads).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from corpora import CACHE, ROOT, read_jsonl

from answer import Answer, QuestionAnswerer
from answer.followup import Turn
from api import wiring
from api.settings import Settings
from ingest import LogProgress

HERE = ROOT / "bench" / "conversations"
HISTORY_MESSAGES = 6  # web/static/chat.js HISTORY_TURNS
HEAD = 160  # characters of an answer kept in the results


@dataclass(frozen=True)
class Played:
    conversation: str
    kind: str
    turn: int  # 0 = the opening question
    question: str
    standalone: str  # what was searched
    paraphrase: str  # the hand-written standalone form (the ceiling's question)
    expect: list[str] | None
    answer_head: str  # the first HEAD characters of the answer
    abstained: bool
    correct: bool
    ceiling: bool  # the paraphrase, asked alone, is answered correctly


def correct(answer: Answer, expect: list[str] | None) -> bool:
    if expect is None:
        return answer.abstained
    text = answer.answer.lower()
    return not answer.abstained and any(phrase.lower() in text for phrase in expect)


def play(
    qa: QuestionAnswerer, conversation: dict[str, Any], alone: dict[str, Answer]
) -> list[Played]:
    history: list[Turn] = []
    played = []
    for n, turn in enumerate(conversation["turns"]):
        question, expect = turn["question"], turn["expect"]
        standalone = qa.standalone(question, history) if history else question
        answer = qa.ask(standalone)
        paraphrase = turn.get("standalone", question)
        if paraphrase not in alone:
            alone[paraphrase] = qa.ask(paraphrase)
        history += [Turn("user", answer.question or question), Turn("assistant", answer.answer)]
        history = history[-HISTORY_MESSAGES:]
        played.append(
            Played(
                conversation["id"],
                conversation["kind"],
                n,
                question,
                standalone,
                paraphrase,
                expect,
                answer.answer[:HEAD],
                answer.abstained,
                correct(answer, expect),
                correct(alone[paraphrase], expect),
            )
        )
    return played


def share(turns: list[Played], ceiling: bool = False) -> float | None:
    if not turns:
        return None
    return round(sum(t.ceiling if ceiling else t.correct for t in turns) / len(turns), 4)


def summary(turns: list[Played]) -> dict[str, Any]:
    follow = [t for t in turns if t.turn > 0]
    by_kind: dict[str, list[Played]] = defaultdict(list)
    for t in turns:
        by_kind[t.kind].append(t)
    return {
        "conversations": len({t.conversation for t in turns}),
        "turns": len(turns),
        "accuracy": share(turns),
        "first_turns": share([t for t in turns if t.turn == 0]),
        "follow_ups": share(follow),
        "ceiling": share(turns, ceiling=True),
        "ceiling_follow_ups": share(follow, ceiling=True),
        "answerable_follow_ups_declined": sum(t.abstained for t in follow if t.expect),
        "answerable_follow_ups": sum(1 for t in follow if t.expect),
        "by_kind": {
            kind: {
                "conversations": len({t.conversation for t in group}),
                "accuracy": share(group),
                "follow_ups": share([t for t in group if t.turn > 0]),
                "ceiling_follow_ups": share([t for t in group if t.turn > 0], ceiling=True),
            }
            for kind, group in sorted(by_kind.items())
        },
    }


def pct(x: float | None) -> str:
    return "   -" if x is None else f"{100 * x:3.0f}%"


def render(result: dict[str, Any], turns: list[Played]) -> str:
    lines = [f"{'kind':<14}{'convs':>6}{'all':>6}{'follow':>8}{'ceiling':>9}"]
    for kind, r in {**result["by_kind"], "all": result}.items():
        lines.append(
            f"{kind:<14}{r['conversations']:>6}{pct(r['accuracy']):>6}{pct(r['follow_ups']):>8}"
            f"{pct(r['ceiling_follow_ups']):>9}"
        )
    lines.append(
        f"first turns {pct(result['first_turns'])}, follow-ups {pct(result['follow_ups'])}, "
        f"ceiling (paraphrases asked alone) {pct(result['ceiling'])} of all turns; "
        f"answerable follow-ups declined: {result['answerable_follow_ups_declined']}"
        f"/{result['answerable_follow_ups']}"
    )
    for t in turns:
        if not t.correct:
            answer = "(declined)" if t.abstained else t.answer_head[:70]
            lines.append(f"  x {t.conversation}#{t.turn}: {t.standalone!r} -> {answer}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/conversations.json")
    args = parser.parse_args()
    settings = Settings(data_dir=CACHE / "conversations", collection="handbook")
    store = wiring.open_store(settings)
    try:
        kb = wiring.knowledge_base(settings, store)
        embedder = wiring.embedder(settings)
        report = wiring.ingestor(settings, kb, embedder, LogProgress()).run(
            [HERE / "handbook"], "handbook", prune=True
        )
        if report.failed:
            raise SystemExit(f"{len(report.failed)} handbook files failed to ingest")
        kb.flush()
        qa = wiring.question_answerer(settings, wiring.retriever(settings, kb, embedder))
        qa.warm_up()
        alone: dict[str, Answer] = {}  # paraphrase -> its answer, asked without history
        turns = [t for c in read_jsonl(HERE / "conversations.jsonl") for t in play(qa, c, alone)]
    finally:
        store.close()
    result = summary(turns)
    print(render(result, turns))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({**result, "turns_played": [asdict(t) for t in turns]}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
