"""The contradictions outside testing found passing the support check (issue 23), through
the public generative path like tests/answer/test_faithfulness.py: an antonym verb, a
negation inside the quote, a number in words against one in digits. Each comes with the
faithful sentence of the same fact, which must be kept, so that refusing everything
cannot pass."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from index import SentenceTransformerEmbedder
from tests.answer.helpers import Scripted, kept, scripted_qa
from tests.helpers.fixtures import Readers

FINDINGS = """# Findings of the review

Downregulation of the kinase activates the stress pathway in liver cells.
Coffee intake was not associated with an increased risk of stroke in the cohort.
Uruguay has won the World Cup twice, in 1930 and 1950.
The committee approved the budget after a second vote.
"""
QUESTION = "What did the review find?"

CASES = [
    # (faithful, contradiction)
    pytest.param(
        "Downregulation of the kinase turns on the stress pathway in liver cells.",
        "Downregulation of the kinase deactivates the stress pathway in liver cells.",
        id="antonym-verb",
    ),
    pytest.param(
        "Coffee intake was not linked to a higher risk of stroke in the cohort.",
        "Coffee intake increased the risk of stroke in the cohort.",
        id="negation-in-quote",
    ),
    pytest.param(
        "Uruguay has won the World Cup two times, in 1930 and 1950.",
        "Uruguay has won the World Cup once, in 1930.",
        id="number-words",
    ),
    pytest.param(
        "The budget was approved by the committee after a second vote.",
        "The committee rejected the budget after a second vote.",
        id="antonym-verb-approved",
    ),
]


@pytest.fixture(scope="module")
def qa(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    readers: Readers,
) -> Iterator[Scripted]:
    with scripted_qa(
        tmp_path_factory.mktemp("patterns"), {"review.md": FINDINGS}, embedder, readers
    ) as made:
        yield made


@pytest.mark.parametrize(("faithful", "contradiction"), CASES)
def test_the_contradiction_is_removed_and_the_faithful_sentence_kept(
    qa: Scripted, faithful: str, contradiction: str
) -> None:
    assert kept(qa, QUESTION, faithful), f"faithful sentence refused: {faithful!r}"
    assert not kept(qa, QUESTION, contradiction), f"contradiction kept: {contradiction!r}"
