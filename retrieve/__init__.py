"""Question -> passages: dense + lexical candidates, fused, (reranked), diversified."""

from retrieve.fusion import reciprocal_rank_fusion
from retrieve.mmr import mmr
from retrieve.rerank import CrossEncoderReranker, Reranker
from retrieve.retriever import MAX_QUERY_CHARS, MAX_TOP_K, Retriever
from retrieve.types import MODES, Mode, Passage, Retrieval

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_TOP_K",
    "MODES",
    "CrossEncoderReranker",
    "Mode",
    "Passage",
    "Reranker",
    "Retrieval",
    "Retriever",
    "mmr",
    "reciprocal_rank_fusion",
]
