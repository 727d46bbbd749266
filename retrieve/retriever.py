"""Question -> passages: dense (FAISS) and lexical (full-text) candidates, fused by
reciprocal rank fusion, deduplicated, optionally reranked by a cross-encoder and
diversified by MMR.

A scope (collection, document ids, source prefix) is applied inside both searches, so a
chunk outside it is never a candidate and never reaches the answer step.

Not done here: deciding whether the passages answer the question (answer/ does, on the
`similarity` every passage carries).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from index import ConfigError, Embedder, KnowledgeBase, Scope
from retrieve.fusion import reciprocal_rank_fusion
from retrieve.mmr import mmr
from retrieve.rerank import Reranker
from retrieve.types import MODES, Mode, Passage, Retrieval

log = logging.getLogger(__name__)

MAX_TOP_K = 100
MAX_QUERY_CHARS = 4000


class Retriever:
    def __init__(
        self,
        kb: KnowledgeBase,
        embedder: Embedder,
        *,
        mode: Mode = "hybrid",
        candidates: int = 50,
        rrf_k: float = 5.0,
        dense_weight: float = 1.0,
        lexical_weight: float = 2.0,
        mmr_lambda: float | None = None,
        reranker: Reranker | None = None,
        rerank_candidates: int = 20,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"CITED_SEARCH_MODE must be one of {', '.join(MODES)}, got {mode!r}")
        if candidates < 1:
            raise ConfigError(f"CITED_CANDIDATES must be at least 1, got {candidates}")
        if rrf_k < 0:
            raise ConfigError(f"CITED_RRF_K must be non-negative, got {rrf_k}")
        if dense_weight < 0 or lexical_weight < 0 or dense_weight + lexical_weight == 0:
            raise ConfigError(
                "CITED_DENSE_WEIGHT and CITED_LEXICAL_WEIGHT must be non-negative and not both "
                f"zero, got {dense_weight} and {lexical_weight}"
            )
        if mmr_lambda is not None and not 0.0 <= mmr_lambda <= 1.0:
            raise ConfigError(f"CITED_MMR_LAMBDA must be within [0, 1], got {mmr_lambda}")
        if rerank_candidates < 1:
            raise ConfigError(
                f"CITED_RERANK_CANDIDATES must be at least 1, got {rerank_candidates}"
            )
        self.kb = kb
        self.embedder = embedder
        self.mode: Mode = mode
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.weights = (dense_weight, lexical_weight)
        self.mmr_lambda = mmr_lambda
        self.reranker = reranker
        self.rerank_candidates = rerank_candidates

    def search(
        self, query: str, top_k: int = 5, mode: Mode | None = None, scope: Scope | None = None
    ) -> list[Passage]:
        return list(self.retrieve(query, top_k, mode, scope).passages)

    def retrieve(
        self, query: str, top_k: int = 5, mode: Mode | None = None, scope: Scope | None = None
    ) -> Retrieval:
        """The `top_k` best passages for `query` inside `scope`, best first."""
        mode = mode or self.mode
        self._check(query, top_k, mode)
        scope = scope or Scope()
        generation = self.kb.refresh()  # the model check, and what other processes wrote
        query_vector = self.embedder.embed_query(query)

        pool = max(self.candidates, top_k)
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            dense = self.kb.search_ids(query_vector, pool, scope, generation)
        if mode in ("lexical", "hybrid"):
            lexical = self.kb.lexical_search(query, pool, scope)

        if mode == "hybrid":
            ranked = reciprocal_rank_fusion(
                [[i for i, _ in dense], [i for i, _ in lexical]], self.weights, self.rrf_k
            )
        else:
            ranked = dense or lexical
        wanted = self.rerank_candidates if self.reranker else top_k
        if self.mmr_lambda is not None:
            wanted = max(wanted, 3 * top_k)
        passages = self._passages(ranked, query_vector, wanted, dict(dense), dense, lexical)

        if self.reranker is not None and passages:
            scores = self.reranker.scores(query, [p.text for p in passages])
            order = np.argsort(-scores, kind="stable")
            passages = [replace(passages[i], score=float(scores[i])) for i in order]
        if self.mmr_lambda is not None and len(passages) > top_k:
            vectors = self.kb.embeddings([p.chunk_id for p in passages])
            passages = [passages[i] for i in mmr(query_vector, vectors, top_k, self.mmr_lambda)]
        return Retrieval(query, mode, tuple(passages[:top_k]), query_vector)

    def _passages(
        self,
        ranked: Sequence[tuple[int, float]],
        query_vector: np.ndarray,
        wanted: int,
        similarity: dict[int, float],
        dense: Sequence[tuple[int, float]],
        lexical: Sequence[tuple[int, float]],
    ) -> list[Passage]:
        """Join the best ids to the store, skipping ids deleted meanwhile and passages whose
        text repeats a better one (the same paragraph in two files)."""
        dense_rank = {i: r for r, (i, _) in enumerate(dense, 1)}
        lexical_rank = {i: r for r, (i, _) in enumerate(lexical, 1)}
        passages: list[Passage] = []
        seen_texts: set[str] = set()
        position = 0
        while len(passages) < wanted and position < len(ranked):
            batch = ranked[position : position + wanted * 2]
            position += len(batch)
            found = self.kb.chunks([i for i, _ in batch])
            unscored = [i for i, _ in batch if i in found and i not in similarity]
            if unscored:
                vectors = self.kb.embeddings(unscored)
                similarity.update(zip(unscored, (vectors @ query_vector).tolist(), strict=True))
            for chunk_id, score in batch:
                if chunk_id not in found:
                    continue
                chunk, document = found[chunk_id]
                key = " ".join(chunk.text.lower().split())
                if key in seen_texts:
                    continue
                seen_texts.add(key)
                passages.append(
                    Passage(
                        chunk_id=chunk.id,
                        document_id=document.id,
                        collection=document.collection,
                        title=document.title,
                        source=document.source,
                        page=chunk.page,
                        section=chunk.section,
                        start=chunk.start,
                        end=chunk.end,
                        text=chunk.text,
                        score=float(score),
                        similarity=float(similarity[chunk_id]),
                        dense_rank=dense_rank.get(chunk_id),
                        lexical_rank=lexical_rank.get(chunk_id),
                    )
                )
                if len(passages) == wanted:
                    break
        return passages

    @staticmethod
    def _check(query: str, top_k: int, mode: str) -> None:
        if not query.strip():
            raise ConfigError("the question is empty; ask something")
        if len(query) > MAX_QUERY_CHARS:
            raise ConfigError(
                f"the question has {len(query)} characters; the limit is {MAX_QUERY_CHARS}"
            )
        if not 1 <= top_k <= MAX_TOP_K:
            raise ConfigError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
        if mode not in MODES:
            raise ConfigError(f"search mode must be one of {', '.join(MODES)}, got {mode!r}")
