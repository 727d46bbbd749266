"""Low-rank adaptation of the base encoder: what training changes, and the delta it ships.

Each targeted linear layer W of the encoder gets W + (alpha / rank) * B @ A, with A and B
small and trained, W frozen; layer norms and the head are trained in full. The delta file
holds only those tensors (answer.models.apply_delta adds them back onto the installed base
weights), about 2 MB against the base's 90 MB.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from answer.models import DELTA_FORMAT

TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


class LoraLinear(torch.nn.Module):
    def __init__(self, base: torch.nn.Linear, rank: int, alpha: float, dropout: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = torch.nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, rank))
        torch.nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update: torch.Tensor = (self.dropout(x) @ self.lora_a.T @ self.lora_b.T) * self.scale
        out: torch.Tensor = self.base(x) + update
        return out


def adapt(network: torch.nn.Module, rank: int, alpha: float, dropout: float) -> list[str]:
    """Wraps the targeted linear layers in place, freezes everything but the adapters, the
    layer norms and the head. Returns the wrapped modules' names."""
    for param in network.parameters():
        param.requires_grad = False
    wrapped: list[str] = []
    for name, module in list(network.named_modules()):
        if isinstance(module, torch.nn.Linear) and any(name.endswith(t) for t in TARGETS):
            parent_name, _, child = name.rpartition(".")
            parent = network.get_submodule(parent_name)
            setattr(parent, child, LoraLinear(module, rank, alpha, dropout))
            wrapped.append(name)
    for name, param in network.named_parameters():
        if "LayerNorm" in name or name.startswith("head.") or ".lora_" in name:
            param.requires_grad = True
    return wrapped


def delta_tensors(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The trained tensors under the names of the plain (unwrapped) network."""
    out: dict[str, torch.Tensor] = {}
    for name, param in network.named_parameters():
        if not param.requires_grad:
            continue
        plain = name.replace(".base.", ".")
        # adapters and (full fine-tuning) the weight matrices in fp16; norms, biases, head fp32
        half = ".lora_" in name or (param.dim() == 2 and not name.startswith("head."))
        out[plain] = param.detach().to(torch.float16 if half else torch.float32)
    return {k: v.contiguous() for k, v in sorted(out.items())}


def save_delta(
    network: torch.nn.Module, path: Path, meta: dict[str, Any], labels: tuple[str, ...]
) -> None:
    metadata = {k: str(v) for k, v in meta.items()}
    metadata.update(format=DELTA_FORMAT, labels=json.dumps(list(labels)))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(delta_tensors(network), str(path), metadata=metadata)
