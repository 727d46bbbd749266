"""Follow-up questions made standalone by rule (answer/followup.py)."""

from __future__ import annotations

from answer import Turn, condense
from answer.followup import leans_on_context


def test_a_follow_up_gets_the_topic_of_the_previous_question() -> None:
    history = [
        Turn("user", "What is the Port of Kelling?"),
        Turn("assistant", "A harbour founded by herring merchants [1]."),
    ]
    # names from the reply first (the answer names what "it" is), then the question's topic
    assert condense("When was it founded?", history) == "When was it founded? (Port Kelling)"
    assert condense("And what about the breakwater?", history) == (
        "And what about the breakwater? (Port Kelling)"
    )
    baker = [Turn("user", "Who is the head baker?"), Turn("assistant", "Tomasz Wilk [1].")]
    assert condense("Where did he train?", baker) == "Where did he train? (Tomasz Wilk head baker)"


def test_standalone_questions_and_first_questions_stay_as_they_are() -> None:
    history = [Turn("user", "What is the Port of Kelling?")]
    question = "How many hives does the rooftop apiary have?"
    assert condense(question, history) == question
    assert condense("When was it founded?", []) == "When was it founded?"
    assert not leans_on_context(
        "Explain the whole membership policy of the library in detail and list every rule it has, please"
    )


def test_topics_carry_through_a_chain_of_follow_ups() -> None:
    history = [
        Turn("user", "Who is the head baker at the Alder Street Bakery?"),
        Turn("assistant", "Tomasz Wilk [1]."),
        Turn("user", "Where did he train?"),
        Turn("assistant", "In Kraków [1]."),
    ]
    standalone = condense("How long did he train there?", history)
    assert "Alder" in standalone and "Bakery" in standalone
