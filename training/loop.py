"""Fine-tunes the base encoder with low-rank adapters on pair examples, on CPU, seeded.

Batches are drawn in a seeded order, grouped by length (pairs of similar length share a
batch, so little is padded), with AdamW, linear warm-up and decay. A checkpoint of the
trainable tensors is written every `checkpoint_every` steps and training resumes from it,
so a long run that is stopped loses at most that much.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from answer.models import base_encoder, build_network
from training import lora
from training.data import Example

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    task: str  # "answer" or "support"
    labels: tuple[str, ...]
    epochs: float = 1.0
    batch_size: int = 16
    learning_rate: float = 5e-4
    head_learning_rate: float = 2e-3
    warmup: float = 0.06
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.1
    max_length: int = 160
    seed: int = 13
    checkpoint_every: int = 200
    max_steps: int = 0  # 0: as many as the epochs make
    full: bool = False  # fine-tune every weight but the word embeddings, not adapters


def batches(examples: Sequence[Example], config: TrainConfig, tokenizer: object) -> list[list[int]]:
    """Indices of each batch, in training order: shuffled, then sorted by length within
    windows of 50 batches, then the batches shuffled."""
    rng = random.Random(config.seed)
    order: list[int] = []
    whole = int(config.epochs)
    for _ in range(whole):
        order += rng.sample(range(len(examples)), len(examples))
    part = config.epochs - whole
    if part > 0:
        order += rng.sample(range(len(examples)), int(part * len(examples)))
    size = config.batch_size
    window = size * 50
    out: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(
            order[start : start + window],
            key=lambda i: len(examples[i].first) + len(examples[i].second),
        )
        group = [chunk[j : j + size] for j in range(0, len(chunk), size)]
        rng.shuffle(group)
        out += group
    return out


def train(examples: Sequence[Example], config: TrainConfig, work: Path) -> torch.nn.Module:
    """The trained network (adapters still wrapped). `work` holds checkpoints and the log."""
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    tokenizer, encoder = base_encoder()
    network = build_network(encoder, len(config.labels))
    torch.nn.init.normal_(network.head.weight, std=0.02)
    torch.nn.init.zeros_(network.head.bias)
    if config.full:
        for name, param in network.named_parameters():
            param.requires_grad = "word_embeddings" not in name
    else:
        lora.adapt(network, config.rank, config.alpha, config.dropout)
    plan = batches(examples, config, tokenizer)
    if config.max_steps:
        plan = plan[: config.max_steps]
    head = [p for n, p in network.named_parameters() if p.requires_grad and n.startswith("head.")]
    rest = [
        p for n, p in network.named_parameters() if p.requires_grad and not n.startswith("head.")
    ]
    optimizer = torch.optim.AdamW(
        [
            {"params": rest, "lr": config.learning_rate},
            {"params": head, "lr": config.head_learning_rate},
        ],
        weight_decay=0.01,
    )
    warmup = max(1, int(config.warmup * len(plan)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (len(plan) - step) / (len(plan) - warmup))),
    )
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = work / f"{config.task}.checkpoint.pt"
    first = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if state["config"] == asdict(config):
            network.load_state_dict(state["network"], strict=False)
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            first = state["step"]
            log.info("resumed task=%s step=%d", config.task, first)
    binary = len(config.labels) == 1
    network.train()
    started = time.perf_counter()
    running = 0.0
    for step in range(first, len(plan)):
        rows = [examples[i] for i in plan[step]]
        features = tokenizer(
            [e.first for e in rows],
            [e.second for e in rows],
            truncation="longest_first",
            max_length=config.max_length,
            padding=True,
            return_tensors="pt",
        )
        logits = network(**features)
        labels = torch.tensor([e.label for e in rows])
        if binary:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits[:, 0], labels.float()
            )
        else:
            loss = multi_class_loss(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in network.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        running = 0.98 * running + 0.02 * loss.item() if step > first else loss.item()
        if (step + 1) % 50 == 0 or step + 1 == len(plan):
            elapsed = time.perf_counter() - started
            rate = (step + 1 - first) / elapsed
            print(
                json.dumps(
                    {
                        "task": config.task,
                        "step": step + 1,
                        "of": len(plan),
                        "loss": round(running, 4),
                        "steps_per_s": round(rate, 3),
                        "eta_min": round((len(plan) - step - 1) / rate / 60, 1),
                    }
                ),
                flush=True,
            )
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < len(plan):
            trainable = {n: p.detach() for n, p in network.named_parameters() if p.requires_grad}
            torch.save(
                {
                    "config": asdict(config),
                    "network": trainable,
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "step": step + 1,
                },
                checkpoint.with_suffix(".tmp"),
            )
            checkpoint.with_suffix(".tmp").replace(checkpoint)
    network.eval()
    checkpoint.unlink(missing_ok=True)
    trained: torch.nn.Module = network
    return trained


def multi_class_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy, where the label one past the last (NOT_FIRST) means "any label but
    the first": a binary set's "not entailed" says the claim is contradicted or lacks
    support without saying which, so its loss is -log(1 - P(first))."""
    log_p = torch.log_softmax(logits, dim=-1)
    rest = torch.logsumexp(log_p[:, 1:], dim=-1)
    known = labels < logits.shape[1]
    picked = log_p.gather(1, labels.clamp(max=logits.shape[1] - 1)[:, None])[:, 0]
    return -torch.where(known, picked, rest).mean()
