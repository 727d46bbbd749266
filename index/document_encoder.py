"""Embedding documents for ingestion with the model's ONNX export, fp32 or int8, without torch.

    CITED_DOCUMENT_ENCODER   vectors                          the store records
    torch                    SentenceTransformer (as before)  the model's name
    onnx                     its ONNX export, fp32            the model's name (same vectors, ~1e-6)
    int8                     the export, feed-forward int8    the model's name + " [int8]"

An ingestion needs the model's tokenizer (chunking), its limits, and document vectors; the
export and the Rust tokenizer give all three, so once the export is cached `cited ingest`
imports neither torch nor transformers: 500 SQuAD paragraphs peak at 595 MB for the whole
process tree instead of 1,275, in 7.7 s instead of 16.5 (bench/ingest_memory.py). The
export itself needs the model loaded in torch once: the first run pays for it and caches
it (index.onnx_fast, shared with the question path), checked against torch's vectors.

int8: the feed-forward matrix products are quantized per channel (dynamic int8), attention
stays fp32: 1.34-1.39x the fp32 export's speed, and chunk vectors within cosine 0.98 of
fp32 ones (bench/int8_encoder.py --variant ffn). Questions are still embedded in fp32,
so the store records the mix as a model of its own: switching the setting on a store
built the other way is refused with the model-mismatch message until `cited reindex
--reembed`.

Models this does not cover (no tokenizer.json, pooling other than mean or CLS, prompts
left out of pooling) are embedded with torch under `onnx`, and refused under `int8`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from index.embedder import (
    DocumentEncoder,
    RustTokenizer,
    SentenceTransformerEmbedder,
    Tokenizer,
    resolve_model_path,
)
from index.errors import ConfigError
from index.onnx_fast import PROBES, ModelFiles, Unsupported, cache_key, export_model, pooling

log = logging.getLogger(__name__)

DocumentEncoderKind = Literal["torch", "onnx", "int8"]
DOCUMENT_ENCODERS: tuple[DocumentEncoderKind, ...] = ("torch", "onnx", "int8")
INT8_SUFFIX = " [int8]"
FFN = ("intermediate", "output/dense")  # the feed-forward MatMuls (not attention's)
AGREEMENT = 1e-4  # the fp32 export's largest difference from torch's vectors
# Texts per ONNX run. onnxruntime's arena keeps its largest allocation, which grows with
# the batch: 500 SQuAD paragraphs (int8, 2 cores) take 5.3 s and 1,124 MB at 32, 4.5 s
# and 605 MB at 16, 4.4 s and 383 MB at 8, 4.3 s and 272 MB at 4.
ONNX_BATCH = 8


def index_model_name(model_name: str, kind: DocumentEncoderKind) -> str:
    """What the store records as the model of its vectors."""
    return model_name + INT8_SUFFIX if kind == "int8" else model_name


def quantize_ffn(fp32: Path) -> Path:
    """The export with its feed-forward MatMuls in int8 (per channel), cached beside it."""
    out = fp32.with_name(f"{fp32.stem}.int8-ffn.onnx")
    if out.exists():
        return out
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    matmuls = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "MatMul"]
    chosen = [n for n in matmuls if any(f in n for f in FFN) and "attention" not in n]
    if not chosen:
        raise Unsupported("no feed-forward MatMul found to quantize")
    partial = out.with_name(out.name + ".tmp")
    quantize_dynamic(
        fp32, partial, weight_type=QuantType.QInt8, per_channel=True, nodes_to_quantize=chosen
    )
    partial.replace(out)
    return out


class OnnxDocumentEncoder:
    """`embed_documents` and what chunking needs, from the ONNX export (see the module
    docstring). Loads lazily, once; `fallback` embeds instead when the export cannot be made
    (None: that is a ConfigError)."""

    def __init__(
        self,
        model_name: str,
        cache_dir: Path,
        threads: int = 0,
        int8: bool = False,
        fallback: SentenceTransformerEmbedder | None = None,
    ) -> None:
        self.base_name = model_name
        self.model_name = index_model_name(model_name, "int8" if int8 else "onnx")
        self.cache_dir = cache_dir
        self.threads = threads
        self.int8 = int8
        self.fallback = fallback
        self._lock = threading.Lock()
        self._files: ModelFiles | None = None
        self._session: Any = None
        self._inputs: list[str] = []
        self._tokenizer: Any = None
        self._plain: RustTokenizer | None = None
        self._use_fallback = False

    def _load(self) -> None:
        with self._lock:
            if self._files is not None or self._use_fallback:
                return
            try:
                files = ModelFiles.read(resolve_model_path(self.base_name))
                self._session, self._inputs = self._open(files)
                self._tokenizer = files.tokenizer(padded=True)  # for the model
                self._plain = RustTokenizer(files.tokenizer(padded=False))  # for chunking
            except (Unsupported, OSError, RuntimeError, ValueError, TypeError, ImportError) as exc:
                # A model the path cannot read, or an export that cannot be made or read
                # (a read-only cache folder, an exporter error): torch embeds instead, unless
                # the store's model is the int8 one, which only this path makes.
                where = f" in {self.cache_dir}" if isinstance(exc, OSError) else ""
                if self.fallback is None:
                    raise ConfigError(
                        f"the int8 document encoder cannot run {self.base_name!r}{where} "
                        f"({exc}); set CITED_DOCUMENT_ENCODER=torch, or point "
                        "CITED_MODEL_CACHE_DIR at a writable folder"
                    ) from None
                log.warning(
                    "ONNX document encoder not used%s (%s); embedding with torch", where, exc
                )
                self._use_fallback = True
                return
            self._files = files

    def _open(self, files: ModelFiles) -> tuple[Any, list[str]]:
        import onnxruntime

        key = cache_key(str(files.path), files.max_seq_length, self.cache_dir)
        fp32 = self.cache_dir / f"{key}.onnx"
        if not fp32.exists():
            self._export(files, fp32)
        path = quantize_ffn(fp32) if self.int8 else fp32
        options = onnxruntime.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        log.info("ONNX document encoder ready path=%s", path)
        return session, [i.name for i in session.get_inputs()]

    def _export(self, files: ModelFiles, path: Path) -> None:
        """Export with the model loaded in torch (once per model), checked against it."""
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(files.path), device="cpu")
        model.eval()
        accepted = {"input_ids", "attention_mask", "token_type_ids"}
        inputs = [n for n in model.tokenizer.model_input_names if n in accepted]
        export_model(model, pooling(model), inputs, path)
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        encoded = model.tokenizer(PROBES, padding=True, return_tensors="np")
        ours = session.run(None, {n: encoded[n].astype(np.int64) for n in inputs})[0]
        theirs = model.encode(PROBES, normalize_embeddings=True, convert_to_numpy=True)
        difference = float(np.abs(ours - theirs).max())
        if difference > AGREEMENT:
            path.unlink()
            raise Unsupported(f"ONNX vectors differ from torch's by {difference:.1e}")

    def _torch(self) -> SentenceTransformerEmbedder | None:
        """Loads once; then the fallback if it embeds instead of the export, else None."""
        self._load()
        return self.fallback if self._files is None else None

    @property
    def dimension(self) -> int:
        if (torch := self._torch()) is not None:
            return torch.dimension
        assert self._files is not None
        return self._files.dimension

    @property
    def max_tokens(self) -> int:
        if (torch := self._torch()) is not None:
            return torch.max_tokens
        assert self._files is not None and self._plain is not None
        specials = len(self._plain.encoded("", special=True))
        prompt = len(self._plain.encoded(self._files.document_prompt))
        return self._files.max_seq_length - specials - prompt

    @property
    def tokenizer(self) -> Tokenizer:
        if (torch := self._torch()) is not None:
            return torch.tokenizer
        assert self._plain is not None
        return self._plain

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if (torch := self._torch()) is not None:
            return torch.embed_documents(texts)
        files = self._files
        assert files is not None
        if not texts:
            return np.zeros((0, files.dimension), dtype=np.float32)
        tokenizer = self._tokenizer
        prompt = files.document_prompt
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # as encode() does
        vectors = np.empty((len(texts), files.dimension), dtype=np.float32)
        for start in range(0, len(order), ONNX_BATCH):
            rows = order[start : start + ONNX_BATCH]
            encoded = tokenizer.encode_batch([prompt + texts[i] for i in rows])
            columns = {
                "input_ids": [e.ids for e in encoded],
                "attention_mask": [e.attention_mask for e in encoded],
                "token_type_ids": [e.type_ids for e in encoded],
            }
            feeds = {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}
            vectors[rows] = self._session.run(None, feeds)[0]
        return vectors


def document_encoder(
    kind: DocumentEncoderKind,
    embedder: SentenceTransformerEmbedder,
    cache_dir: Path,
    threads: int = 0,
) -> DocumentEncoder:
    """The encoder ingestion embeds with (see the module docstring); `threads` 0: all cores."""
    if kind == "torch":
        return embedder
    return OnnxDocumentEncoder(
        embedder.model_name,
        cache_dir,
        threads,
        int8=kind == "int8",
        fallback=embedder if kind == "onnx" else None,
    )
