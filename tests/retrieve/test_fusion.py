"""Reciprocal rank fusion and MMR: pure functions over ranks and vectors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrieve import mmr, reciprocal_rank_fusion


def test_rrf_rewards_agreement_and_respects_weights() -> None:
    fused = dict(reciprocal_rank_fusion([[1, 2, 3], [3, 4, 1]], [1.0, 1.0], k=5))
    assert fused[1] == pytest.approx(1 / 6 + 1 / 8)
    assert fused[3] == pytest.approx(1 / 8 + 1 / 6)
    assert max(fused, key=fused.__getitem__) in (1, 3)
    assert fused[4] < fused[3]
    lexical_heavy = reciprocal_rank_fusion([[1, 2], [2, 1]], [1.0, 2.0], k=5)
    assert lexical_heavy[0][0] == 2


@given(
    st.lists(st.lists(st.integers(0, 30), max_size=20), min_size=1, max_size=3),
    st.floats(0, 100),
)
def test_rrf_scores_every_item_once_best_first(rankings: list[list[int]], k: float) -> None:
    fused = reciprocal_rank_fusion(rankings, [1.0] * len(rankings), k)
    ids = [item for item, _ in fused]
    assert sorted(ids) == sorted({i for r in rankings for i in r})
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)


def test_rrf_rejects_mismatched_weights() -> None:
    with pytest.raises(ValueError, match="2 rankings but 1 weights"):
        reciprocal_rank_fusion([[1], [2]], [1.0])


def test_mmr_skips_a_near_duplicate_for_a_different_relevant_item() -> None:
    query = np.array([1.0, 0.0, 0.0])
    a = np.array([0.9, 0.436, 0.0])
    duplicate = a + np.array([0.0, 0.0, 0.01])
    other = np.array([0.8, 0.0, 0.6])
    candidates = np.stack([a, duplicate / np.linalg.norm(duplicate), other])
    assert mmr(query, candidates, 2, lambda_=1.0) == [0, 1]  # relevance only
    assert mmr(query, candidates, 2, lambda_=0.5) == [0, 2]
    with pytest.raises(ValueError, match="within"):
        mmr(query, candidates, 2, lambda_=1.5)
