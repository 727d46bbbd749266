"""The reading models: small cross-encoders that read two texts together and judge them.

    answer model   (question, sentence [SEP] the sentence before it) -> P(the sentence answers)
    support model  (quote, claim) -> P(supported), P(contradicted), P(not enough information)

Both ship with cited as deltas over the bundled all-MiniLM-L6-v2 encoder (answer/weights/:
low-rank updates of its linear layers, its layer norms and a classification head; about
1.4 MB each instead of 90 MB) and are trained by training/ (`make models`, docs/models.md).
A delta is loaded onto the installed base weights after its SHA-256 is checked against
answer/weights/MANIFEST.json, so a truncated or edited file fails with a clear error
instead of scoring nonsense.

Either can be replaced by a local folder (CITED_ANSWER_MODEL, CITED_SUPPORT_MODEL) of a
Hugging Face sequence-classification model: a sentence-transformers CrossEncoder, an NLI
cross-encoder, ... Its labels are read from its config: one logit is P(answers) /
P(supported) through a sigmoid; several are a softmax whose label names say which is which
(entailment/supported, contradiction/refuted, neutral/not enough info).

Deliberately not done: downloading models (everything is local), GPU placement (the
sentences of one question are a small batch; CPU is as fast as the transfer).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from answer.onnx_pairs import OnnxPairs
from index import ConfigError
from index.embedder import DEFAULT_MODEL, resolve_model_path

log = logging.getLogger(__name__)

WEIGHTS = Path(__file__).resolve().parent / "weights"
MANIFEST = WEIGHTS / "MANIFEST.json"
DELTA_FORMAT = "cited-delta-1"
Task = Literal["answer", "support"]
TASKS: tuple[Task, ...] = ("answer", "support")
SUPPORT_LABELS = ("supported", "contradicted", "not_enough_info")
ANSWER_LABELS = ("answers",)
BUNDLED = "bundled"  # the setting's value for the shipped delta
BATCH = 32


def support_label(name: str) -> str | None:
    """What a classifier's label name means for support, if it says: "ENTAILMENT" ->
    supported, "contradiction" -> contradicted, "neutral" / "not_entailment" -> not enough
    information."""
    name = name.lower().replace(" ", "_").replace("-", "_")
    if name.startswith(("not", "non", "no_")) or any(
        w in name for w in ("neutral", "nei", "unverifiable", "unknown")
    ):
        return "not_enough_info"
    if any(w in name for w in ("contradict", "refute", "false")):
        return "contradicted"
    if any(w in name for w in ("entail", "support", "attribut", "consistent", "true")):
        return "supported"
    return None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mean_pool(hidden: Any, mask: Any) -> Any:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def build_network(encoder: Any, labels: int) -> Any:
    """The shipped architecture: the encoder, mean pooling over the pair's tokens, a linear
    head. training/ builds the same network to train it."""
    import torch

    class PairNetwork(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, labels)

        def forward(self, **features: Any) -> Any:
            hidden = self.encoder(**features).last_hidden_state
            return self.head(mean_pool(hidden, features["attention_mask"]))

    return PairNetwork()


def base_encoder(base: str = DEFAULT_MODEL) -> tuple[Any, Any]:
    """(tokenizer, BertModel) of the bundled sentence-transformers model, from disk."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    path = resolve_model_path(base)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    encoder = AutoModel.from_pretrained(path, local_files_only=True)
    return tokenizer, encoder


def apply_delta(network: Any, tensors: dict[str, Any], meta: dict[str, Any]) -> None:
    """Adds a delta's low-rank updates to the network's weights and sets the rest it
    carries (layer norms, head). Fails when a name does not match the network."""
    import torch

    full = meta.get("full") == "True"  # every weight, not adapters (training.loop)
    scale = 0.0 if full else float(meta["alpha"]) / float(meta["rank"])
    params = dict(network.named_parameters())
    with torch.no_grad():
        for name, value in tensors.items():
            if name.endswith(".lora_a"):
                target = name.removesuffix(".lora_a") + ".weight"
                update = tensors[name.removesuffix(".lora_a") + ".lora_b"].float() @ value.float()
                _param(params, target).add_(scale * update)
            elif not name.endswith(".lora_b"):
                param = _param(params, name)
                if param.shape != value.shape:
                    raise ConfigError(
                        f"delta tensor {name} has shape {tuple(value.shape)}, the network "
                        f"{tuple(param.shape)}: the delta was made for another base model"
                    )
                param.copy_(value.float())


def _param(params: dict[str, Any], name: str) -> Any:
    if name not in params:
        raise ConfigError(f"delta tensor {name} matches no weight of the base model")
    return params[name]


def read_delta(path: Path, expected_sha256: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors, metadata) of a delta file, its checksum checked first."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    if not path.is_file():
        raise ConfigError(f"model weights {path} are missing; reinstall cited or run `make models`")
    if expected_sha256 is not None and sha256(path) != expected_sha256:
        raise ConfigError(
            f"model weights {path} do not match their checksum in {MANIFEST.name} "
            "(corrupt or edited); reinstall cited or run `make models`"
        )
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ConfigError(f"cannot read model weights {path}: {exc}") from exc
    if meta.get("format") != DELTA_FORMAT:
        raise ConfigError(f"{path} is not a cited delta (format {meta.get('format')!r})")
    return tensors, meta


@dataclass(frozen=True)
class LoadedModel:
    """A network ready to score pairs, with what is needed to feed it."""

    network: Any  # None once an ONNX export reads for it (PairScorer.loaded)
    tokenizer: Any
    labels: tuple[str, ...]  # the network's outputs, in order
    max_length: int
    name: str  # where it came from, for logs and /health
    threshold: float | None = None  # the answer model's calibrated abstention threshold
    key: str = ""  # names these exact weights (for the ONNX cache)
    keep_ratio: float | None = None  # calibrated with the threshold (training.calibrate)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def load_bundled(task: Task, weights: Path = WEIGHTS) -> LoadedModel:
    manifest_path = weights / MANIFEST.name
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read {manifest_path} ({exc}); reinstall cited or run `make models`"
        ) from exc
    entry = manifest.get(task)
    if not isinstance(entry, dict) or "file" not in entry or "sha256" not in entry:
        raise ConfigError(f"{manifest_path} has no {task} model; run `make models`")
    tensors, meta = read_delta(weights / entry["file"], entry["sha256"])
    labels = tuple(json.loads(meta["labels"]))
    tokenizer, encoder = base_encoder(meta.get("base", DEFAULT_MODEL))
    network = build_network(encoder, len(labels))
    apply_delta(network, tensors, meta)
    network.eval()
    threshold = entry.get("threshold")
    return LoadedModel(
        network,
        tokenizer,
        labels,
        int(meta["max_length"]),
        f"bundled:{task}",
        None if threshold is None else float(threshold),
        f"{task}-{entry['sha256'][:20]}",
        _optional_float(entry.get("keep_ratio")),
    )


def load_folder(task: Task, folder: str) -> LoadedModel:
    """A local Hugging Face sequence-classification model (a CrossEncoder folder too)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    setting = f"CITED_{task.upper()}_MODEL"
    path = Path(folder).expanduser()
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"{setting}={folder!r} is not a model folder (no config.json there); give the "
            f"folder of a sequence-classification model, or {BUNDLED!r} for the shipped one"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load {setting}={folder!r}: {exc}") from exc
    model.eval()
    labels = folder_labels(task, model.config, setting)

    import torch

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, **features: Any) -> Any:
            return self.model(**features).logits

    max_length = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)
    digest = hashlib.sha256(str(path.resolve()).encode())
    for file in sorted(path.rglob("*")):
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    key = f"{task}-folder-{digest.hexdigest()[:20]}"
    return LoadedModel(Logits().eval(), tokenizer, labels, max_length, str(path), None, key)


def folder_labels(task: Task, config: Any, setting: str) -> tuple[str, ...]:
    """What each output of a folder model means, from its config's labels."""
    count = int(config.num_labels)
    if count == 1:
        return ANSWER_LABELS if task == "answer" else ("supported",)
    if task == "answer":
        if count == 2:  # (no, yes) as binary classifiers are written
            return ("other", "answers")
        raise ConfigError(f"{setting}: an answer model needs 1 or 2 outputs, this one has {count}")
    names = [str(config.id2label[i]) for i in range(count)]
    labels = [support_label(name) or name for name in names]
    if "supported" not in labels:
        raise ConfigError(
            f"{setting}: none of the model's labels ({', '.join(names)}) reads as "
            "entailment/supported; name them in its config.json id2label"
        )
    if count == 2 and "contradicted" not in labels:
        labels = ["supported" if x == "supported" else "not_enough_info" for x in labels]
    return tuple(labels)


class _RustPairs:
    """Pairs tokenized by the base model's Rust tokenizer (truncated longest first and
    padded, as transformers' tokenizer does for the torch path), as numpy arrays."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def __call__(self, pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
        encoded = self._tokenizer.encode_batch(pairs)
        return {
            "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
        }


class PairScorer:
    """Scores (first, second) text pairs with one reading model, loaded on first use (once,
    thread-safe). `probabilities()` returns one row per pair over `labels`."""

    def __init__(
        self,
        task: Task,
        model: str = BUNDLED,
        weights: Path = WEIGHTS,
        fast_path_dir: Path | None = None,
    ) -> None:
        """`fast_path_dir`: where to cache an ONNX export of the model, run faster on CPU
        (answer.onnx_pairs); None: torch only."""
        if task not in TASKS:
            raise ConfigError(f"unknown reading task {task!r}; known: {', '.join(TASKS)}")
        if not model:
            raise ConfigError(
                f"CITED_{task.upper()}_MODEL is empty; give {BUNDLED!r} or a model folder"
            )
        self.task: Task = task
        self.model_name = model
        self.weights = weights
        self.fast_path_dir = fast_path_dir
        self._fast: OnnxPairs | None = None
        self._lock = threading.Lock()
        self._loaded: LoadedModel | None = None
        self.pairs_scored = 0  # pairs read since construction (bench/, metrics)
        # A fast tokenizer called with padding/truncation from two threads at once can fail
        # with "Already borrowed"; tokenizing a batch takes well under a millisecond.
        self._tokenize = threading.Lock()

    def _cached_bundled(self) -> LoadedModel | None:
        """The shipped model from its cached ONNX export alone (no torch): its delta's
        checksum checked, labels and length from the delta's metadata, the base model's
        Rust tokenizer. None when no export is cached."""
        if self.model_name != BUNDLED or self.fast_path_dir is None:
            return None
        try:
            manifest = json.loads((self.weights / MANIFEST.name).read_text(encoding="utf-8"))
            entry = manifest[self.task]
        except (OSError, ValueError, KeyError):
            return None
        key = f"{self.task}-{entry['sha256'][:20]}"
        path = self.fast_path_dir / f"{key}.onnx"
        if not path.is_file():
            return None
        delta = self.weights / entry["file"]
        if sha256(delta) != entry["sha256"]:
            raise ConfigError(
                f"model weights {delta} do not match their checksum in {MANIFEST.name} "
                "(corrupt or edited); reinstall cited or run `make models`"
            )
        import onnxruntime
        from safetensors import safe_open
        from tokenizers import Tokenizer

        from index.onnx_fast import Sessions, default_threads

        with safe_open(str(delta), framework="numpy") as handle:
            meta = dict(handle.metadata() or {})
        labels = tuple(json.loads(meta["labels"]))
        max_length = int(meta["max_length"])
        base = Path(resolve_model_path(meta.get("base", DEFAULT_MODEL)))
        tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
        tokenizer.enable_truncation(max_length, strategy="longest_first")
        tokenizer.enable_padding()
        sessions = Sessions(onnxruntime, path, default_threads())
        inputs = [i.name for i in sessions.inputs()]
        self._fast = OnnxPairs(sessions, inputs)
        threshold = entry.get("threshold")
        return LoadedModel(
            None,
            _RustPairs(tokenizer),
            labels,
            max_length,
            f"bundled:{self.task}",
            None if threshold is None else float(threshold),
            key,
            _optional_float(entry.get("keep_ratio")),
        )

    @property
    def loaded(self) -> LoadedModel:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._cached_bundled()
            if self._loaded is None:
                if self.model_name == BUNDLED:
                    self._loaded = load_bundled(self.task, self.weights)
                else:
                    self._loaded = load_folder(self.task, self.model_name)
                log.info("reading model loaded task=%s model=%s", self.task, self._loaded.name)
                if self.fast_path_dir is not None:
                    import torch

                    self._fast = OnnxPairs.load(
                        self._loaded.network,
                        self._loaded.tokenizer,
                        self._loaded.key,
                        self.fast_path_dir,
                        torch.get_num_threads(),
                    )
                    if self._fast is not None:  # it answers from now on: let torch's copy go
                        self._loaded = replace(self._loaded, network=None)
            return self._loaded

    @property
    def fast(self) -> bool:
        """True when pairs are read by the ONNX export."""
        _ = self.loaded
        return self._fast is not None

    @property
    def display_name(self) -> str:
        """What an answer names as its model: "cited/answer-model" for the shipped one, else
        the folder."""
        return f"cited/{self.task}-model" if self.model_name == BUNDLED else self.model_name

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    @property
    def labels(self) -> tuple[str, ...]:
        return self.loaded.labels

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """(len(pairs), len(labels)) probabilities; batches sorted by length."""
        model = self.loaded
        if isinstance(model.tokenizer, _RustPairs):  # read from the cached export alone
            return self._numpy_probabilities(model, pairs)
        import torch

        self.pairs_scored += len(pairs)
        out = np.zeros((len(pairs), len(model.labels)), dtype=np.float32)
        if not pairs:
            return out
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        fast = self._fast
        with torch.inference_mode():
            for start in range(0, len(order), BATCH):
                rows = order[start : start + BATCH]
                with self._tokenize:
                    features = model.tokenizer(
                        [pairs[i][0] for i in rows],
                        [pairs[i][1] for i in rows],
                        truncation="longest_first",
                        max_length=model.max_length,
                        padding=True,
                        return_tensors="np" if fast else "pt",
                    )
                if fast is not None:
                    logits = torch.from_numpy(fast.logits(dict(features)))
                else:
                    logits = model.network(**features).float()
                if logits.shape[1] == 1:
                    probs = torch.sigmoid(logits)
                else:
                    probs = torch.softmax(logits, dim=-1)
                out[rows] = probs.numpy()
        return out

    def _numpy_probabilities(
        self, model: LoadedModel, pairs: Sequence[tuple[str, str]]
    ) -> np.ndarray:
        assert self._fast is not None
        self.pairs_scored += len(pairs)
        out = np.zeros((len(pairs), len(model.labels)), dtype=np.float32)
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            with self._tokenize:
                features = model.tokenizer([pairs[i] for i in rows])
            logits = self._fast.logits(features).astype(np.float32)
            if logits.shape[1] == 1:
                probs = 1.0 / (1.0 + np.exp(-logits))
            else:
                shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
                probs = shifted / shifted.sum(axis=1, keepdims=True)
            out[rows] = probs
        return out

    def column(self, probabilities: np.ndarray, label: str) -> np.ndarray:
        """One label's probabilities (zeros when the model has no such output)."""
        labels = self.labels
        if label in labels:
            return np.asarray(probabilities[:, labels.index(label)])
        return np.zeros(len(probabilities), dtype=np.float32)
