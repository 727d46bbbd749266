"""Reciprocal rank fusion: combine ranked lists by rank alone, so scores on different scales
(cosine, bm25) never need calibrating against each other.

    score(d) = sum over lists i containing d of  weight_i / (k + rank_i(d)),  rank from 1

(Cormack, Clarke and Buettcher, 2009; k = 60 there.)
"""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float], k: float = 60.0
) -> list[tuple[int, float]]:
    """(id, fused score) best first; ties keep the order of first appearance."""
    if len(rankings) != len(weights):
        raise ValueError(f"{len(rankings)} rankings but {len(weights)} weights")
    if k < 0:
        raise ValueError(f"fusion k must be non-negative, got {k}")
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(dict.fromkeys(ranking), 1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: -pair[1])
