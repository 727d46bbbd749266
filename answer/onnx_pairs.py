"""A faster path for the reading models on CPU: the loaded network (the delta merged in)
exported to ONNX and run by onnxruntime.

An answer reads about ten (question, sentence) pairs; through torch on two cores that
costs more than everything else of a question together, much of it per-call overhead that
onnxruntime does not have (bench/query.py). Its probabilities agree with torch's to within
AGREEMENT on probe pairs, checked at every load. Deliberately not int8: dynamic
quantization moved the fine-tuned models' probabilities by up to 0.08 on the probes,
enough to move answers across the calibrated threshold.

The export (a few seconds) happens once per model and is cached as
<cache_dir>/<key>.onnx, the key derived from the model's weights (the delta's checksum for
the bundled models, the files of a folder model), written atomically. Any failure keeps
torch; the reason is logged once. An export that disagrees with torch is deleted, so a
cached one has passed the check: a later process reads the bundled models from it alone,
without loading torch or transformers (answer.models.PairScorer).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from index.onnx_fast import Sessions, export

log = logging.getLogger(__name__)

PROBES = [
    ("When was the bridge rebuilt?", "The bridge was rebuilt in 1887 after a flood."),
    ("The bridge was rebuilt in 1887.", "The bridge was never rebuilt."),
    ("Who schedules the pilot boats?", "The harbour master schedules pilot boats. [SEP] Ok."),
]
AGREEMENT = 1e-3  # largest allowed difference from torch's probabilities
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Unsupported(Exception):
    pass


def _export(network: Any, tokenizer: Any, inputs: list[str], path: Path) -> None:
    import torch

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, *tensors: Any) -> Any:
            return self.network(**dict(zip(inputs, tensors, strict=True)))

    sample = tokenizer(
        [p[0] for p in PROBES], [p[1] for p in PROBES], padding=True, return_tensors="pt"
    )
    export(Logits().eval(), sample, inputs, "logits", path)


class OnnxPairs:
    """Logits of a reading model's network from its ONNX export."""

    def __init__(self, sessions: Sessions, inputs: list[str]) -> None:
        self._sessions = sessions
        self._inputs = inputs

    @classmethod
    def load(
        cls, network: Any, tokenizer: Any, key: str, cache_dir: Path, threads: int
    ) -> OnnxPairs | None:
        """The fast path for `network`, exported on first use; None when not applicable."""
        try:
            import onnxruntime
        except ImportError:
            log.info("onnxruntime is not installed; the reading models use torch")
            return None
        try:
            inputs = [n for n in INPUTS if n in tokenizer.model_input_names]
            if inputs[:2] != ["input_ids", "attention_mask"]:
                raise Unsupported(f"tokenizer inputs {tokenizer.model_input_names}")
            path = cache_dir / f"{key}.onnx"
            if not path.exists():
                _export(network, tokenizer, inputs, path)
            fast = cls(Sessions(onnxruntime, path, threads), inputs)
            difference = fast._disagreement(network, tokenizer)
            if difference > AGREEMENT:
                path.unlink(missing_ok=True)  # a cached export is always a checked one
                raise Unsupported(f"ONNX probabilities differ from torch's by {difference:.3f}")
        except Unsupported as exc:
            log.info("fast ONNX path not used for a reading model (%s); using torch", exc)
            return None
        except (ImportError, RuntimeError, ValueError, OSError, TypeError) as exc:
            log.warning("ONNX export or load of a reading model failed, using torch error=%s", exc)
            return None
        log.info("reading model fast path ready path=%s", path)
        return fast

    def _disagreement(self, network: Any, tokenizer: Any) -> float:
        import torch

        features = tokenizer(
            [p[0] for p in PROBES], [p[1] for p in PROBES], padding=True, return_tensors="pt"
        )
        with torch.inference_mode():
            expected = network(**features).float()
        fast = torch.from_numpy(self.logits({k: v.numpy() for k, v in features.items()}))
        if expected.shape[1] == 1:
            return float((torch.sigmoid(expected) - torch.sigmoid(fast)).abs().max())
        return float((expected.softmax(-1) - fast.softmax(-1)).abs().max())

    def logits(self, features: dict[str, np.ndarray]) -> np.ndarray:
        feeds = {name: features[name].astype(np.int64) for name in self._inputs}
        return self._sessions.run(feeds).astype(np.float32, copy=False)
