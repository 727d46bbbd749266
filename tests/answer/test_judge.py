"""The language-model judge of uncertain support (CITED_SUPPORT_JUDGE=llm), against the
scripted OpenAI-protocol stub: a right judge decides, a wrong one is obeyed within the
band only, and a judge that fails, answers nonsense or is slow leaves the support model's
verdict, never "supported"."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from answer import ChatClient, SupportChecker, SupportJudge
from answer.text import Claim
from answer.verify import verify
from retrieve import Passage
from tests.helpers.fixtures import Readers
from tests.openai_stub import Reply, Stub, serve

TEXT = "The Hollow Bridge in Keswick was rebuilt in 1887 after a flood."
PARAPHRASE = "In 1887 the Hollow Bridge in Keswick was rebuilt."  # the model: P 0.94
DOUBTFUL = "The Hollow Bridge in Keswick was rebuilt in 1887 by the town council."  # P 0.01


def passage(text: str = TEXT) -> Passage:
    return Passage(
        7, "doc", "default", "Bridges", "/d/b.txt", None, None, 0, len(text), text, 1.0, 0.5
    )


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    with serve() as running:
        yield running


Make = Callable[..., SupportChecker]


@pytest.fixture
def checker(readers: Readers, stub: Stub) -> Iterator[Make]:
    """Support checkers judged through the stub (band [low, high)); their clients closed."""
    clients: list[ChatClient] = []

    def make(low: float = 0.0, high: float = 1.0) -> SupportChecker:
        clients.append(ChatClient(stub.base_url, "judge-model", timeout=1.0, retries=0))
        return SupportChecker(readers.support, 0.5, judge=SupportJudge(clients[-1], low, high))

    yield make
    for client in clients:
        client.close()


def test_the_judge_decides_what_the_model_is_unsure_of(
    readers: Readers, stub: Stub, checker: Make
) -> None:
    alone = SupportChecker(readers.support).check(DOUBTFUL, passage())
    judged = checker()  # band [0, 1): everything the gate lets through
    stub.replies(Reply('["not_enough_info"]'))
    refused = judged.check(DOUBTFUL, passage())
    assert refused.quote is None and refused.by == "judge"
    assert "does not state it" in (refused.reason or "")
    stub.replies(Reply('Verdicts: ["supported"]'))
    accepted = judged.check(DOUBTFUL, passage())
    assert accepted.quote is not None and accepted.by == "judge"
    assert accepted.quote.text == TEXT  # the quote is still an exact span
    assert alone.by == "model"
    sent = stub.requests[-1]["messages"]
    assert "QUOTE" in sent[1]["content"] and DOUBTFUL in sent[1]["content"]


@pytest.mark.parametrize(
    "reply",
    [
        Reply("I think so."),  # no array
        Reply('["supported", "supported", "supported"]'),  # one verdict too many
        Reply('["probably"]'),  # not a verdict
        Reply("", status=500),  # an error
        Reply('["supported"]', delay=3.0),  # slower than its timeout
    ],
)
def test_a_judge_that_fails_leaves_the_models_verdict(
    readers: Readers, stub: Stub, checker: Make, reply: Reply
) -> None:
    expected = SupportChecker(readers.support).check_many(
        [(DOUBTFUL, passage()), (PARAPHRASE, passage())]
    )
    stub.replies(reply)
    got = checker().check_many([(DOUBTFUL, passage()), (PARAPHRASE, passage())])
    assert [(v.quote is None, v.by) for v in got] == [(v.quote is None, "model") for v in expected]


def test_only_the_uncertain_band_is_sent_in_one_request(stub: Stub, checker: Make) -> None:
    sure = checker(low=0.2, high=0.8)
    probability = sure.model.column(sure.model.probabilities([(TEXT, PARAPHRASE)]), "supported")
    assert probability[0] >= 0.8  # the model is sure of the paraphrase
    before = len(stub.requests)
    verdict = sure.check(PARAPHRASE, passage())
    assert verdict.by == "model" and len(stub.requests) == before  # nothing sent
    everything = checker()
    stub.replies(Reply(json.dumps(["supported", "contradicted"])))
    verdicts = everything.check_many([(DOUBTFUL, passage()), (PARAPHRASE, passage())])
    assert len(stub.requests) == before + 1  # both in one request
    assert [v.by for v in verdicts] == ["judge", "judge"] and verdicts[1].quote is None
    assert "contradicts it" in (verdicts[1].reason or "")


def test_the_contract_says_which_decided(stub: Stub, checker: Make) -> None:
    stub.replies(Reply('["supported"]'))
    claims = [Claim(DOUBTFUL, (1,)), Claim(TEXT, (1,))]
    answer = verify("q?", claims, [passage()], checker(), "generative", "m").answer
    assert [s["support_by"] for s in answer.to_dict()["sentences"]] == ["judge", "verbatim"]


def test_a_band_that_cannot_work_is_refused(stub: Stub) -> None:
    from index import ConfigError

    client = ChatClient(stub.base_url, "judge-model")
    with pytest.raises(ConfigError, match="CITED_SUPPORT_JUDGE_LOW"):
        SupportJudge(client, 0.8, 0.2)
    client.close()


def test_the_setting_builds_the_judge_or_names_what_it_needs(stub: Stub) -> None:
    from api import wiring
    from api.settings import Settings
    from index import ConfigError

    with pytest.raises(ConfigError, match="CITED_SUPPORT_JUDGE=llm needs a language model"):
        wiring.support_judge(Settings(support_judge="llm"))
    judge = wiring.support_judge(
        Settings(support_judge="llm", llm_base_url=stub.base_url, llm_model="m")
    )
    assert judge is not None and (judge.low, judge.high) == (0.2, 0.8)
    judge.client.close()
    assert wiring.support_judge(Settings()) is None
