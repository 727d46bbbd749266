"""Maximal marginal relevance: pick passages that are relevant and unlike those already
picked, so near-duplicates (the same paragraph in two files, overlapping chunks) do not
crowd out other evidence.

    next = argmax  lambda * sim(q, d) - (1 - lambda) * max over picked p of sim(d, p)
"""

from __future__ import annotations

import numpy as np


def mmr(query: np.ndarray, candidates: np.ndarray, top_k: int, lambda_: float) -> list[int]:
    """Indices into `candidates` (normalized rows), in pick order."""
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError(f"MMR lambda must be within [0, 1], got {lambda_}")
    n = len(candidates)
    if n == 0 or top_k <= 0:
        return []
    relevance = candidates @ query
    pairwise = candidates @ candidates.T
    picked: list[int] = [int(np.argmax(relevance))]
    redundancy = pairwise[picked[0]].copy()
    while len(picked) < min(top_k, n):
        gain = lambda_ * relevance - (1.0 - lambda_) * redundancy
        gain[picked] = -np.inf
        best = int(np.argmax(gain))
        picked.append(best)
        redundancy = np.maximum(redundancy, pairwise[best])
    return picked
