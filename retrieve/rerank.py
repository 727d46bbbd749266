"""Optional cross-encoder reranking (sentence-transformers CrossEncoder).

The model is named like any sentence-transformers model (a hub name already in the local
cache, or a local folder) and loaded lazily, once. No reranker is bundled: none is set by
default.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from index import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

log = logging.getLogger(__name__)


class Reranker(Protocol):
    name: str

    def scores(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One relevance score per text, higher is more relevant."""
        ...


class CrossEncoderReranker:
    def __init__(self, model_name: str, device: str = "cpu", batch_size: int = 32) -> None:
        if not model_name.strip():
            raise ConfigError("CITED_RERANK_MODEL is blank; name a cross-encoder or unset it")
        self.name = model_name
        self.device = device
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._model: CrossEncoder | None = None

    @property
    def model(self) -> CrossEncoder:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> CrossEncoder:
        from sentence_transformers import CrossEncoder

        try:
            model: CrossEncoder = CrossEncoder(
                self.name, device=None if self.device == "auto" else self.device
            )
        except OSError as exc:
            hint = (
                ""
                if Path(self.name).exists()
                else (" (is it downloaded? the hub is not contacted unless HF_HUB_OFFLINE=0)")
            )
            raise ConfigError(f"cannot load rerank model {self.name!r}: {exc}{hint}") from exc
        log.info("rerank model loaded model=%s", self.name)
        return model

    def scores(self, query: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        raw = self.model.predict(
            [(query, text) for text in texts],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        scores = np.asarray(raw, dtype=np.float32)
        if scores.ndim == 2:  # a model with several labels: take the last ("relevant")
            scores = scores[:, -1]
        return scores
