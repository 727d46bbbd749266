"""Follow-up questions made standalone by rule (answer/followup.py)."""

from __future__ import annotations

from answer import NO_ANSWER, Turn, condense
from answer.followup import leans_on_context
from index import SentenceTransformerEmbedder
from tests.answer.helpers import make_qa
from tests.helpers.fixtures import AnswerKb, Readers


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


FORKLIFT = [
    Turn("user", "Who can drive a forklift?"),
    Turn("assistant", "Only staff with a valid forklift licence may drive one [1]."),
    Turn("user", "Where are their batteries charged?"),
    Turn("assistant", "In the charging room next to bay 4 [1]."),
]


def test_a_name_spelled_like_a_pronoun_is_no_reference_back() -> None:
    for question in (
        "When is the IT service desk open?",
        "Is there parking at the Hamburg office?",
        "Which one of the US offices has a canteen?",
    ):
        assert condense(question, FORKLIFT) == question
    assert condense("How long does it take?", FORKLIFT).startswith("How long does it take? (")


def test_words_of_a_declined_turn_are_never_carried() -> None:
    history = [
        *FORKLIFT,
        Turn("user", "What is the refund policy for annual subscriptions?"),
        Turn("assistant", NO_ANSWER + " (no sentence of the passages answers it)"),
    ]
    standalone = condense("How often are they serviced?", history)
    assert "refund" not in standalone and "subscriptions" not in standalone
    assert "batteries" in standalone  # from the last answered exchange
    only_declined = history[-2:]
    assert condense("How do I install it?", only_declined) == "How do I install it?"


def test_an_ellipsis_naming_another_of_the_same_takes_its_place() -> None:
    history = [
        Turn("user", "How many weeks of parental leave does the birth parent get?"),
        Turn("assistant", "The birth parent gets 16 weeks of paid parental leave [1]."),
    ]
    assert condense("And the other parent?", history) == (
        "How many weeks of parental leave does the other parent get?"
    )
    again = condense("What about the birth parent?", history)  # the same asked again
    assert again == (
        "How many weeks of parental leave does the birth parent get? What about the birth parent?"
    )


def test_an_ellipsis_is_read_into_the_last_question() -> None:
    hotel = [
        Turn("user", "what's the hotel limit in London?"),
        Turn("assistant", "In London, Paris and Munich the limit is €220 a night [1]."),
    ]
    assert condense("and in Hamburg?", hotel) == "what's the hotel limit in Hamburg?"
    desk = [
        Turn("user", "When is the IT service desk open?"),
        Turn("assistant", "From Monday to Friday, 08:00 to 18:00 [1]."),
    ]
    assert condense("And on Saturdays?", desk) == "When is the IT service desk open on Saturdays?"
    laptop = [Turn("user", "Do employees get a laptop?"), Turn("assistant", "Yes [1].")]
    assert condense("what about contractors?", laptop) == (
        "Do employees get a laptop? what about contractors?"
    )


def test_names_in_the_answer_are_added_for_a_person_only() -> None:
    history = [
        Turn("user", "Who may drive a forklift?"),
        Turn("assistant", "Employees of Kestrel with a Safety Agency licence [1]."),
    ]
    assert condense("where are their batteries charged?", history) == (
        "where are their batteries charged? (drive forklift)"
    )
    baker = [Turn("user", "Who is the head baker?"), Turn("assistant", "Tomasz Wilk [1].")]
    assert (
        condense("Where did she train?", baker) == "Where did she train? (Tomasz Wilk head baker)"
    )


def test_a_rewrite_that_retrieves_no_better_is_dropped(
    answer_kb: AnswerKb, embedder: SentenceTransformerEmbedder, readers: Readers
) -> None:
    qa = make_qa(answer_kb[0], embedder, readers)
    baker = [
        Turn("user", "Who is the head baker at the Alder Street Bakery?"),
        Turn("assistant", "Tomasz Wilk [1]."),
    ]
    standalone = "When was the Port of Kelling founded, and who founded it?"
    assert condense(standalone, baker) != standalone  # the rule alone would add the baker
    assert qa.standalone(standalone, baker) == standalone
    follow_up = qa.standalone("Where did he train?", baker)
    assert follow_up.startswith("Where did he train? (") and "Wilk" in follow_up
    assert "Kraków" in qa.ask(follow_up).answer
    qa.close()


def test_there_and_one_refer_back_only_as_a_place_or_a_thing() -> None:
    assert leans_on_context("what protective gear do I need in there?")
    assert leans_on_context("how much does a new one cost?")
    assert not leans_on_context("Is there parking at the Hamburg office for visitors today?")
    assert not leans_on_context("Which one of the US offices has the largest canteen?")
    refunds = [
        Turn("user", "who approves refunds above €5,000?"),
        Turn("assistant", "The finance director, Sanne de Wit [1]."),
    ]
    assert condense("and refunds under 500?", refunds) == "who approves refunds under 500?"
