"""A faster path for embedding a few short texts on CPU: the same model exported to ONNX
and run by onnxruntime.

A question is embedded in ~2.7 ms this way against ~9 ms through torch on this machine
(bench/query.py), and the vectors agree with torch's to ~1e-7, so they search the same
index. Used for questions and the handful of sentences an answer scores, never for
ingestion (torch batches big inputs as fast).

The export (about 1 s) happens once per model and is cached as
<cache_dir>/<key>.onnx, keyed by the model folder's contents, written atomically, and
kept only once its vectors agree with torch's. Once it is cached, questions need neither
torch nor transformers: `OnnxEncoder.cached` opens it with the model folder's Rust
tokenizer (importing sentence-transformers and loading the model in torch cost ~6 s of a
`cited ask` here). Models this does not cover (pooling other than mean or CLS, prompts
excluded from pooling, any export or agreement failure) keep using torch; the reason is
logged once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PROBES = ["A short probe sentence.", "Another, somewhat longer probe sentence for checking."]
AGREEMENT = 1e-4  # largest allowed difference from torch's normalized vectors


class Unsupported(Exception):
    pass


@dataclass(frozen=True)
class ModelFiles:
    """What the ONNX paths need to know of a sentence-transformers model folder, read from
    its files without loading it (no torch, no transformers)."""

    path: Path
    max_seq_length: int
    dimension: int
    document_prompt: str
    query_prompt: str = ""

    @classmethod
    def read(cls, folder: str) -> ModelFiles:
        """Unsupported when the folder lacks what the ONNX path needs."""
        path = Path(folder)
        try:
            modules = json.loads((path / "modules.json").read_text())
            config = json.loads((path / "sentence_bert_config.json").read_text())
            pooling_folder = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
            pool = json.loads((path / pooling_folder / "config.json").read_text())
            extra = path / "config_sentence_transformers.json"
            prompts = json.loads(extra.read_text()).get("prompts") or {} if extra.exists() else {}
        except (OSError, ValueError, KeyError, StopIteration) as exc:
            raise Unsupported(
                f"not a sentence-transformers folder cited can read ({exc})"
            ) from None
        if not (path / "tokenizer.json").exists():
            raise Unsupported("no tokenizer.json (a fast tokenizer)")
        if not (pool.get("pooling_mode_mean_tokens") or pool.get("pooling_mode_cls_token")):
            raise Unsupported(f"pooling {pool}")
        if any(prompts.values()) and not pool.get("include_prompt", True):
            raise Unsupported("prompts excluded from pooling")
        return cls(
            path,
            int(config["max_seq_length"]),
            int(pool["word_embedding_dimension"]),
            str(prompts.get("document") or ""),
            str(prompts.get("query") or ""),
        )

    def tokenizer(self, padded: bool) -> Any:
        """The folder's Rust tokenizer (`tokenizers` alone): `padded`, cut at the model's
        length and padded, as the model reads a batch; else whole texts (chunking)."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str((self.path / "tokenizer.json").read_text())
        if padded:
            tokenizer.enable_truncation(self.max_seq_length)
            tokenizer.enable_padding()
        else:
            tokenizer.no_truncation()
            tokenizer.no_padding()
        return tokenizer


def cache_key(model_path: str, max_seq_length: int, cache_dir: Path) -> str:
    """The export's file stem: a digest of the model folder's contents and the length.

    Contents, not the folder's path or file times, so that the same model installed again
    (a new virtual environment, a new clone, a reinstall) reuses its export instead of
    adding another ~90 MB file to a cache shared by the machine. Hashing the weights takes
    ~60 ms, so the digest is remembered in `<cache_dir>/<stamp>.digest`, the stamp taken
    from the folder's path and its files' names, sizes and times: paid once per install."""
    folder = Path(model_path)
    if not folder.is_dir():
        return _digest([model_path.encode()], max_seq_length)
    files = sorted(f for f in folder.rglob("*") if f.is_file())
    stamp = hashlib.sha1(model_path.encode())
    for file in files:
        stat = file.stat()
        stamp.update(f"{file.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    memo = cache_dir / f"{_digest([stamp.digest()], max_seq_length)}.digest"
    try:
        remembered = memo.read_text().strip()
    except FileNotFoundError:
        remembered = ""
    if re.fullmatch("[0-9a-f]{20}", remembered):
        return remembered
    parts = []
    for file in files:
        with file.open("rb") as handle:
            content = hashlib.file_digest(handle, "sha256").digest()
        parts.append(str(file.relative_to(folder)).encode() + b"\0" + content)
    key = _digest(parts, max_seq_length)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=memo.name, suffix=".tmp", dir=cache_dir)
        with os.fdopen(fd, "w") as out:
            out.write(key)
        os.replace(tmp, memo)
    except OSError as exc:  # a read-only cache: the digest is computed again next time
        log.info("could not remember the model digest in %s (%s)", cache_dir, exc)
    return key


def _digest(parts: list[bytes], max_seq_length: int) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    digest.update(str(max_seq_length).encode())
    return digest.hexdigest()[:20]


def pooling(model: Any) -> str:
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        raise Unsupported(f"modules {names}")
    config = modules[1].get_config_dict()
    mode = config.get("pooling_mode")
    if mode not in ("mean", "cls"):
        raise Unsupported(f"pooling {mode!r}")
    if model.prompts and any(model.prompts.values()) and not config.get("include_prompt", True):
        raise Unsupported("prompts excluded from pooling")
    return str(mode)


def export_model(model: Any, pooling: str, inputs: list[str], path: Path) -> None:
    """The SentenceTransformer `model` (mean or CLS pooling, normalized) as ONNX at `path`."""
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, transformer: Any) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: Any) -> Any:
            kwargs = dict(zip(inputs, tensors, strict=True))
            hidden = self.transformer(**kwargs).last_hidden_state
            if pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = kwargs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = model.tokenizer(PROBES, padding=True, return_tensors="pt")
    export(Encoder(model[0].auto_model).eval(), sample, inputs, "embedding", path)


def export(module: Any, sample: Any, inputs: list[str], output: str, path: Path) -> None:
    """`module` (called with the tokenizer's `inputs` in order) traced on `sample` and
    written to `path` as ONNX with dynamic batch and length, atomically: a crash leaves
    no half-written model for the next start to load."""
    import torch

    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False):
            warnings.simplefilter("ignore")  # tracer warnings about data-dependent branches
            torch.onnx.export(
                module,
                tuple(sample[name] for name in inputs),
                tmp,
                input_names=inputs,
                output_names=[output],
                dynamic_axes={**axes, output: {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _session(onnxruntime: Any, path: Path, threads: int) -> Any:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle threads must sleep, not spin: FAISS and SQLite run right after on 2 cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def default_threads() -> int:
    """The threads a run may use when torch is not there to say (its default: every CPU
    this process may run on, unless OMP_NUM_THREADS says otherwise)."""
    configured = os.environ.get("OMP_NUM_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Sessions:
    """An ONNX model run on every core, or on one when another run is in flight: on a few
    cores, concurrent runs that each spread over every core only fight over them
    (bench/serve.py: 8 clients); a lone run still gets every core.

    The one-thread session is made when runs first overlap (about 0.1 s, paid by that
    run), not at load: a command that asks one question never needs it."""

    def __init__(self, onnxruntime: Any, path: Path, threads: int) -> None:
        self._onnxruntime = onnxruntime
        self._path = path
        self._session = _session(onnxruntime, path, threads)
        self._single: Any = None if threads > 1 else self._session
        self._in_flight = 0
        self._count = threading.Lock()
        self._making = threading.Lock()

    def _one_thread(self) -> Any:
        with self._making:
            if self._single is None:
                self._single = _session(self._onnxruntime, self._path, 1)
            return self._single

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The model's first output for `feeds`."""
        with self._count:
            alone = self._in_flight == 0
            self._in_flight += 1
        try:
            session = self._session if alone else self._one_thread()
            output: np.ndarray = session.run(None, feeds)[0]
        finally:
            with self._count:
                self._in_flight -= 1
        return output

    def inputs(self) -> list[Any]:
        """The model's inputs (name, type, shape), in order."""
        return list(self._session.get_inputs())


class RustBatchTokenizer:
    """The call OnnxEncoder makes of a Hugging Face tokenizer (a batch, padded, cut at
    `max_length`, as numpy arrays), answered by the `tokenizers` library alone: the same
    ids, without importing transformers (or torch)."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer  # truncation and padding enabled (ModelFiles.tokenizer)

    def __call__(self, texts: list[str], **_: Any) -> dict[str, np.ndarray]:
        encoded = self._tokenizer.encode_batch(texts)
        return {
            "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
        }


class OnnxEncoder:
    """Normalized embeddings from the ONNX export of a SentenceTransformer: `load` from the
    model loaded in torch (exporting it on first use), `cached` from its files and the
    export alone, without torch."""

    def __init__(
        self, sessions: Sessions, tokenizer: Any, inputs: list[str], max_length: int
    ) -> None:
        self._sessions = sessions
        self._tokenizer = tokenizer
        self._inputs = inputs
        self._max_length = max_length
        # A fast tokenizer called with padding/truncation from two threads at once can fail
        # with "Already borrowed"; tokenizing takes ~0.1 ms, so one at a time.
        self._tokenize = threading.Lock()

    @classmethod
    def load(cls, model: Any, model_path: str, cache_dir: Path, threads: int) -> OnnxEncoder | None:
        """The encoder for `model`, exported on first use; None when not applicable."""
        try:
            import onnxruntime
        except ImportError:
            log.info("onnxruntime is not installed; questions are embedded with torch")
            return None
        try:
            mode = pooling(model)
            accepted = {"input_ids", "attention_mask", "token_type_ids"}
            inputs = [n for n in model.tokenizer.model_input_names if n in accepted]
            if "input_ids" not in inputs or "attention_mask" not in inputs:
                raise Unsupported(f"tokenizer inputs {model.tokenizer.model_input_names}")
            key = cache_key(model_path, int(model.max_seq_length), cache_dir)
            path = cache_dir / f"{key}.onnx"
            if not path.exists():
                export_model(model, mode, inputs, path)
            encoder = cls(
                Sessions(onnxruntime, path, threads),
                model.tokenizer,
                inputs,
                int(model.max_seq_length),
            )
            expected = model.encode(PROBES, normalize_embeddings=True, convert_to_numpy=True)
            difference = float(np.abs(encoder.embed(PROBES) - expected).max())
            if difference > AGREEMENT:
                path.unlink()  # a cached export is one that agreed: `cached` trusts it
                raise Unsupported(f"ONNX vectors differ from torch's by {difference:.1e}")
        except Unsupported as exc:
            log.info("fast ONNX path not used for this model (%s); using torch", exc)
            return None
        except (ImportError, RuntimeError, ValueError, OSError, TypeError) as exc:
            log.warning("ONNX export or load failed, questions use torch error=%s", exc)
            return None
        log.info("fast ONNX path ready path=%s", path)
        return encoder

    @classmethod
    def cached(
        cls, files: ModelFiles, cache_dir: Path, threads: int | None = None
    ) -> OnnxEncoder | None:
        """The encoder from the model's files and its cached export, without torch; None
        when no export is cached (`load` makes one) or it cannot be opened. A cached export
        is one `load` or the document encoder checked against torch when making it."""
        path = cache_dir / f"{cache_key(str(files.path), files.max_seq_length, cache_dir)}.onnx"
        if not path.is_file():
            return None
        try:
            import onnxruntime

            sessions = Sessions(onnxruntime, path, threads or default_threads())
            inputs = [i.name for i in sessions.inputs()]
            tokenizer = RustBatchTokenizer(files.tokenizer(padded=True))
        except (ImportError, RuntimeError, ValueError, OSError, TypeError) as exc:
            log.warning("cached ONNX export unusable, loading the model instead error=%s", exc)
            return None
        log.info("questions embedded by the cached ONNX export, without torch path=%s", path)
        return cls(sessions, tokenizer, inputs, files.max_seq_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._tokenize:
            encoded = self._tokenizer(
                list(texts),
                padding=True,
                truncation=True,
                max_length=self._max_length,
                return_tensors="np",
            )
        feeds = {name: encoded[name].astype(np.int64) for name in self._inputs}
        return self._sessions.run(feeds).astype(np.float32, copy=False)
