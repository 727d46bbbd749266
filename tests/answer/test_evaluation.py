"""`cited eval`'s pure parts: reading a questions file, judging an answer, the summary."""

from __future__ import annotations

import pytest

from answer import NO_ANSWER, Answer, AnswerSentence, Citation
from answer.evaluation import (
    EvalQuestion,
    Outcome,
    from_source,
    judge,
    missed_thresholds,
    parse_thresholds,
    read_questions,
    render,
    summarize,
)
from index import ConfigError


def answer(text: str = "The kiln reaches 1280 degrees [1].", source: str = "/d/kiln.txt") -> Answer:
    quote = "The kiln reaches 1280 degrees Celsius."
    return Answer(
        "q?",
        text,
        False,
        None,
        (AnswerSentence(text, (1,), 0.9),),
        (Citation(1, "doc", 1, "Kiln", source, None, 0, len(quote), quote),),
        "extractive",
        "m",
    )


def abstained() -> Answer:
    return Answer("q?", NO_ANSWER, True, "nothing relevant", (), (), "extractive", "m")


def test_questions_are_read_with_their_optional_fields() -> None:
    rows = read_questions(
        [
            '{"question": "a?", "answers": ["x", "y"], "source": "docs/a.md"}',
            "",
            '{"question": "b?", "answers": "z"}',
            '{"question": "c?", "unanswerable": true}',
        ]
    )
    assert rows == [
        EvalQuestion("a?", ("x", "y"), "docs/a.md", False, 1),
        EvalQuestion("b?", ("z",), None, False, 3),
        EvalQuestion("c?", (), None, True, 4),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1 is not JSON"),
        ('{"q": "a?"}', 'expected an object with a "question" string'),
        ('{"question": "a?", "answers": [1]}', '"answers" must be a list of strings'),
        ('{"question": "a?", "unanswerable": "yes"}', '"unanswerable" must be true or false'),
        ('{"question": "a?", "unanswerable": true, "answers": ["x"]}', "has no answers"),
    ],
)
def test_a_bad_line_is_named(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_questions([line], "q.jsonl")
    with pytest.raises(ConfigError, match="has no questions"):
        read_questions(["", "  "], "q.jsonl")


def test_answers_are_judged_by_gold_strings_source_and_abstention() -> None:
    assert judge(EvalQuestion("q?", ("1,280 degrees", "1280 Degrees")), answer()) is None
    assert judge(EvalQuestion("q?", ("Celsius",)), answer()) is None  # in the quote
    wrong = judge(EvalQuestion("q?", ("900 degrees",)), answer())
    assert wrong is not None and "none of '900 degrees'" in wrong
    assert judge(EvalQuestion("q?", source="kiln.txt"), answer()) is None
    assert judge(EvalQuestion("q?", source="other.txt"), answer()) == (
        "no citation comes from other.txt"
    )
    declined = judge(EvalQuestion("q?", ("x",)), abstained())
    assert declined == "abstained: nothing relevant"
    assert judge(EvalQuestion("q?", unanswerable=True), abstained()) is None
    assert judge(EvalQuestion("q?", unanswerable=True), answer()) is not None


def test_a_source_matches_whole_path_parts() -> None:
    assert from_source("/home/me/cited/docs/usage.md", "docs/usage.md")
    assert from_source("/home/me/cited/docs/usage.md", "usage.md")
    assert not from_source("/home/me/cited/docs/usage.md", "sage.md")
    assert not from_source("/a/usage.md", "docs/usage.md")


def outcome(
    expected: str, abstained: bool, correct: bool, ms: float, warm_up: bool = False
) -> Outcome:
    return Outcome("q?", 1, expected, abstained, correct, None, 1, 0, ms, "a", None, None, warm_up)


def test_the_summary_counts_abstention_as_the_positive_class() -> None:
    report = summarize(
        [
            outcome("answer", False, True, 10.0),
            outcome("answer", True, False, 20.0),  # declined an answerable question
            outcome("abstain", True, True, 30.0),
            outcome("abstain", False, False, 40.0),  # answered an unanswerable one
        ]
    )
    m = report.metrics
    assert m["answer_accuracy"] == 0.5 and m["answered"] == 0.5
    assert m["abstention_precision"] == 0.5 and m["abstention_recall"] == 0.5
    assert m["correct"] == 0.5 and m["retrieval_hit_at_k"] is None
    assert [o.ms for o in report.slowest][:2] == [40.0, 30.0]
    assert len(report.failures) == 2


def test_the_warm_up_question_is_timed_apart() -> None:
    report = summarize(
        [
            outcome("answer", False, True, 9000.0, warm_up=True),  # loaded the models
            outcome("answer", False, True, 10.0),
            outcome("answer", False, False, 30.0),
        ]
    )
    m = report.metrics
    assert m["warm_up_ms"] == 9000.0 and m["timed_questions"] == 2
    assert m["latency_ms_p50"] == 20.0 and m["latency_ms_p95"] == 29.0
    assert [o.ms for o in report.slowest] == [30.0, 10.0]
    assert m["correct"] == round(2 / 3, 4)  # its answer counts
    shown = render(report)
    assert "latency p50 / p95 (2 warm questions)" in shown and "9000.0 ms" in shown
    alone = summarize([outcome("answer", False, True, 9000.0, warm_up=True)]).metrics
    assert alone["latency_ms_p50"] is None and alone["timed_questions"] == 0


def test_thresholds_are_parsed_as_shares_or_percentages() -> None:
    assert parse_thresholds(["correct=0.8, abstention_recall=75%", "answered=1"]) == {
        "correct": 0.8,
        "abstention_recall": 0.75,
        "answered": 1.0,
    }
    assert parse_thresholds([]) == {}
    for bad, says in [
        ("declined=0.7", "names no measure; use one of correct, "),
        ("correct", "give correct the least share"),
        ("correct=high", "from 0 to 1 or as a percentage"),
        ("correct=1.2", "correct=0.8 or correct=80%"),
        ("latency_ms_p95=0.5", "names no measure"),
    ]:
        with pytest.raises(ConfigError, match=says):
            parse_thresholds([bad])


def test_each_missed_threshold_is_named() -> None:
    metrics = {"correct": 0.724, "answered": 0.9, "abstention_recall": None}
    assert missed_thresholds(metrics, {"correct": 0.8, "answered": 0.9}) == [
        "correct 72.4% is under 80.0%"
    ]
    assert missed_thresholds(metrics, {"abstention_recall": 0.5}) == [
        'abstention_recall was not measured: no question is marked "unanswerable"'
    ]
    assert missed_thresholds(metrics, {}) == []
