"""What retrieval returns: passages (chunks with their document's identity and scores)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

Mode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk. `text == document_text[start:end]`.

    `score` is what the passages were ordered by: cosine similarity (dense), bm25 (lexical),
    reciprocal-rank fusion (hybrid) or the reranker's score. `similarity` is always the
    cosine similarity of the question and the chunk, whatever the mode, so later stages
    can judge relevance on one scale.
    """

    chunk_id: int
    document_id: str
    collection: str
    title: str
    source: str
    page: int | None
    section: str | None
    start: int
    end: int
    text: str
    score: float
    similarity: float
    dense_rank: int | None = None
    lexical_rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as the CLI and the API show a passage (ranks left out)."""
        shown = {k: v for k, v in asdict(self).items() if not k.endswith("_rank")}
        shown["score"] = round(self.score, 6)
        shown["similarity"] = round(self.similarity, 6)
        return shown

    def __post_init__(self) -> None:
        if len(self.text) != self.end - self.start:
            raise ValueError(
                f"passage text has {len(self.text)} characters but offsets "
                f"[{self.start}:{self.end}] span {self.end - self.start}"
            )


@dataclass(frozen=True)
class Retrieval:
    """The passages for one question, with the question's embedding (reused by answering)."""

    query: str
    mode: Mode
    passages: tuple[Passage, ...]
    query_vector: np.ndarray = field(repr=False, compare=False)
