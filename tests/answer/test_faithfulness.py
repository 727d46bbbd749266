"""A language model that keeps every name and number but changes what the quote says
(negations, swapped roles, wrong relations) gets those sentences removed; its faithful
paraphrases are kept. Through the public generative path: a scripted OpenAI-protocol
server, the real retriever over a corpus of its own, the shipped support model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from index import SentenceTransformerEmbedder
from tests.answer.helpers import Scripted, assert_contract, kept, scripted_qa
from tests.helpers.fixtures import Readers
from tests.openai_stub import Reply

DEALS = """# Acme and Brightline

Acme bought Brightline in 2019 for 40 million dollars.
Brightline makes vibration sensors for wind turbines.
After the purchase, Brightline's founder, Maria Ostrova, joined the board of Acme.
Acme's revenue rose by 12 percent in 2021.
In 2022 the company moved its headquarters from Leeds to York.
The York office opened before the Leeds lease ended.
"""
QUESTION = "What happened between Acme and Brightline?"

FAITHFUL = [
    "In 2019 Acme acquired Brightline.",
    "Brightline was bought by Acme in 2019 for 40 million dollars.",
    "Brightline produces vibration sensors for wind turbines.",
    "Maria Ostrova became a member of Acme's board after the purchase.",
    "Acme's revenue grew by 12 percent in 2021.",
    "The company moved its headquarters to York in 2022.",
]
NEGATED = [
    "Acme did not buy Brightline in 2019.",
    "Maria Ostrova never joined the board of Acme.",
    "Acme's revenue did not rise in 2021.",
    "Brightline does not make vibration sensors for wind turbines.",
]
ROLES_SWAPPED = [
    "Brightline bought Acme in 2019.",
    "Acme's founder, Maria Ostrova, joined the board of Brightline.",
    "In 2022 the company moved its headquarters from York to Leeds.",
    "The Leeds office opened before the York lease ended.",
]
WRONG_RELATION = [
    pytest.param(
        "Acme sold Brightline in 2019.",
        marks=pytest.mark.xfail(
            strict=True,
            reason="issue 12 (resolved, this case missed): "
            "the shipped support model reads 'sold' for 'bought' as "
            "support (P 0.94)",
        ),
    ),
    "Acme's revenue fell by 12 percent in 2021.",
    "Maria Ostrova left the board of Acme after the purchase.",
    pytest.param(
        "Brightline repairs wind turbines.",
        marks=pytest.mark.xfail(
            strict=True,
            reason="issue 12 (resolved, this case missed): "
            "the shipped support model (data v2) reads 'repairs wind "
            "turbines' for 'makes sensors for wind turbines' as support (P 0.66; the first "
            "model refused it at 0.44)",
        ),
    ),
]


@pytest.fixture(scope="module")
def qa(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    readers: Readers,
) -> Iterator[Scripted]:
    with scripted_qa(
        tmp_path_factory.mktemp("faithful"), {"deals.md": DEALS}, embedder, readers
    ) as made:
        yield made


@pytest.mark.parametrize("sentence", FAITHFUL)
def test_a_faithful_paraphrase_is_kept(qa: Scripted, sentence: str) -> None:
    assert kept(qa, QUESTION, sentence)


@pytest.mark.parametrize("sentence", NEGATED)
def test_a_negation_is_removed(qa: Scripted, sentence: str) -> None:
    assert not kept(qa, QUESTION, sentence)


@pytest.mark.parametrize("sentence", ROLES_SWAPPED)
def test_swapped_roles_are_removed(qa: Scripted, sentence: str) -> None:
    assert not kept(qa, QUESTION, sentence)


@pytest.mark.parametrize("sentence", WRONG_RELATION)
def test_a_wrong_relation_is_removed(qa: Scripted, sentence: str) -> None:
    assert not kept(qa, QUESTION, sentence)


def test_the_removed_sentence_goes_and_the_faithful_one_stays(
    qa: Scripted,
) -> None:
    answerer, kb, stub = qa
    stub.replies(Reply("In 2019 Acme acquired Brightline [1]. Brightline bought Acme in 2019 [1]."))
    answer = answerer.ask(QUESTION, mode="generative")
    assert_contract(answer.to_dict(), kb)
    assert [s.text for s in answer.sentences] == ["In 2019 Acme acquired Brightline [1]."]
    assert 0.5 <= answer.sentences[0].support < 1.0
    assert answer.citations[0].quote == "Acme bought Brightline in 2019 for 40 million dollars."
