"""The real training code, a few steps on a toy set: it trains, writes a delta the
product's loader reads back (checksum and all), and the loaded model scores as the trained
network did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from answer.models import MANIFEST, SUPPORT_LABELS, PairScorer, read_delta
from training import augment, loop, lora
from training.__main__ import write_manifest
from training.data import Example

TOY = [
    Example("The bridge was rebuilt in 1887.", "The bridge was rebuilt.", 0, "toy"),
    Example("The bridge was rebuilt in 1887.", "The bridge was not rebuilt.", 1, "toy"),
    Example("The bridge was rebuilt in 1887.", "The bridge is painted red.", 2, "toy"),
    Example("Bees make honey in summer.", "Bees make honey.", 0, "toy"),
    Example("Bees make honey in summer.", "Bees never make honey.", 1, "toy"),
    Example("Bees make honey in summer.", "Bees live in Spain.", 2, "toy"),
]


@pytest.mark.slow
def test_a_few_steps_train_save_and_load_back(tmp_path: Path) -> None:
    config = loop.TrainConfig(
        task="support", labels=SUPPORT_LABELS, batch_size=3, max_steps=4, checkpoint_every=2
    )
    network = loop.train(TOY, config, tmp_path / "work")
    assert not (tmp_path / "work" / "support.checkpoint.pt").exists()  # removed when done
    out = tmp_path / "weights"
    lora.save_delta(
        network,
        out / "support.safetensors",
        {"rank": 16, "alpha": 32.0, "max_length": 64, "base": "all-MiniLM-L6-v2"},
        SUPPORT_LABELS,
    )
    write_manifest(out, "support", "support.safetensors", {})
    manifest = json.loads((out / MANIFEST.name).read_text())
    tensors, meta = read_delta(out / "support.safetensors", manifest["support"]["sha256"])
    assert any(name.endswith(".lora_a") for name in tensors)
    assert json.loads(meta["labels"]) == list(SUPPORT_LABELS)
    # The adapters moved away from their start (B starts at zero).
    assert any(float(t.abs().sum()) > 0 for n, t in tensors.items() if n.endswith(".lora_b"))

    scorer = PairScorer("support", weights=out)
    pairs = [(e.first, e.second) for e in TOY]
    loaded = scorer.probabilities(pairs)
    features = scorer.loaded.tokenizer(
        [p[0] for p in pairs], [p[1] for p in pairs], padding=True, return_tensors="pt"
    )
    with torch.inference_mode():
        trained = torch.softmax(network(**features), dim=-1).numpy()
    assert np.allclose(loaded, trained, atol=2e-3)  # the adapters merged, in fp16


def test_hard_examples_change_the_meaning_and_keep_the_words() -> None:
    import random

    rng = random.Random(0)
    assert (
        augment.negate("The bridge was rebuilt in 1887.") == "The bridge was not rebuilt in 1887."
    )
    assert augment.negate("The bridge was not rebuilt.") == "The bridge was rebuilt."
    assert augment.negate("It isn't open.") == "It is open."
    assert augment.swap_roles("Later, Acme bought Brightline in 2019.") == (
        "Later, Brightline bought Acme in 2019."
    )
    assert augment.swap_roles("Later, Acme and Brightline merged.") is None  # symmetric
    assert augment.antonym("Prices rose sharply.", rng) == "Prices fell sharply."
    changed = augment.swap_numbers("It opened in 1887.", rng)
    assert changed is not None and changed != "It opened in 1887."
    assert changed.startswith("It opened in 18") and len(changed) == len("It opened in 1887.")
    assert augment.shorten("The bridge (built of slate) was rebuilt in 1887.") == (
        "The bridge was rebuilt in 1887."
    )


def test_unanswerable_twins_ask_what_the_paragraph_does_not_say() -> None:
    import random

    from training.answer_set import unanswerable_twin
    from training.data import Paragraph, Question

    context = "The Hollow Bridge in Keswick was rebuilt in 1887. It has three arches."
    paragraph = Paragraph("Bridges", context, ((0, 49), (50, 71)))
    names = ["Hollow Bridge", "Elm Street", "Keswick"]  # of the article; one not in the text

    def twins(question: str) -> set[str | None]:
        asked = Question(question, ("x",), (0,), paragraph, False)
        return {unanswerable_twin(asked, names, random.Random(seed)) for seed in range(20)}

    assert twins("When was the Hollow Bridge rebuilt?") == {
        "When was the Elm Street rebuilt?",  # a name the paragraph does not have
        "When was not the Hollow Bridge rebuilt?",
    }
    assert twins("Which is the largest bridge in Keswick?") == {
        "Which is the smallest bridge in Keswick?",
        "Which is not the largest bridge in Keswick?",
        "Which is the largest bridge in Elm Street?",
    }
    negated = Paragraph("Bridges", "The bridge was never rebuilt.", ((0, 29),))
    asked = Question("When was the bridge rebuilt?", ("x",), (0,), negated, False)
    assert unanswerable_twin(asked, [], random.Random(0)) is None  # it may say "not"


@pytest.mark.slow
def test_full_fine_tuning_ships_every_weight_the_loader_reads_back(tmp_path: Path) -> None:
    config = loop.TrainConfig(
        task="support",
        labels=SUPPORT_LABELS,
        batch_size=3,
        max_steps=2,
        full=True,
        learning_rate=1e-3,
    )
    network = loop.train(TOY, config, tmp_path / "work")
    out = tmp_path / "weights"
    lora.save_delta(
        network,
        out / "support.safetensors",
        {"full": True, "max_length": 64, "base": "all-MiniLM-L6-v2"},
        SUPPORT_LABELS,
    )
    write_manifest(out, "support", "support.safetensors", {})
    manifest = json.loads((out / MANIFEST.name).read_text())
    tensors, meta = read_delta(out / "support.safetensors", manifest["support"]["sha256"])
    assert meta["full"] == "True"
    assert not any(".lora_" in name for name in tensors)
    assert "encoder.encoder.layer.5.intermediate.dense.weight" in tensors  # every layer's weights
    assert tensors["encoder.encoder.layer.5.intermediate.dense.weight"].dtype == torch.float16
    assert not any("word_embeddings" in name for name in tensors)  # kept from the base

    scorer = PairScorer("support", weights=out)
    pairs = [(e.first, e.second) for e in TOY]
    features = scorer.loaded.tokenizer(
        [p[0] for p in pairs], [p[1] for p in pairs], padding=True, return_tensors="pt"
    )
    with torch.inference_mode():
        trained = torch.softmax(network(**features), dim=-1).numpy()
    assert np.allclose(scorer.probabilities(pairs), trained, atol=5e-3)  # fp16 weights


def test_a_not_entailed_label_counts_against_supported_only() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [2.0, 0.0, 0.0], [-2.0, 3.0, -1.0]])
    not_supported = len(SUPPORT_LABELS)  # one past the labels: "contradicted or NEI"
    loss = loop.multi_class_loss(logits, torch.tensor([not_supported] * 3))
    p_first = torch.softmax(logits, dim=-1)[:, 0]
    assert torch.isclose(loss, -torch.log(1 - p_first).mean())
    # ordinary labels are plain cross-entropy
    labels = torch.tensor([0, 1, 2])
    assert torch.isclose(
        loop.multi_class_loss(logits, labels), torch.nn.functional.cross_entropy(logits, labels)
    )
    # which of the other labels takes the mass does not matter to a not-entailed pair
    a = loop.multi_class_loss(torch.tensor([[0.0, 4.0, 0.0]]), torch.tensor([not_supported]))
    b = loop.multi_class_loss(torch.tensor([[0.0, 0.0, 4.0]]), torch.tensor([not_supported]))
    assert torch.isclose(a, b)


def test_calibration_chooses_by_the_mean_of_the_kinds() -> None:
    from training.calibrate import KINDS, Asked, choose, figures

    def asked(kind: str, expect: tuple[str, ...] | None, *scored: tuple[float, str]) -> Asked:
        return Asked(kind, "calibration", expect, scored)

    rows = []
    for kind in KINDS:
        # answerable: the answer is the best sentence at 0.3, or the second behind a 0.25
        rows.append(asked(kind, ("1887",), (0.3, "It was rebuilt in 1887."), (0.1, "Other.")))
        rows.append(asked(kind, ("three",), (0.25, "It is old."), (0.2, "It has three arches.")))
        # unanswerable: best sentences at 0.15
        rows.append(asked(kind, None, (0.15, "Something related.")))
    threshold, keep_ratio = choose(rows)
    assert 0.15 < threshold <= 0.2  # answers both, declines the third; highest such
    assert keep_ratio <= 0.8  # the second sentence joins the first
    assert figures(rows, threshold, keep_ratio)["correct"] == 1.0
    assert figures(rows, 0.5, keep_ratio)["answerable_declined"] == 1.0


def test_sets_kept_in_the_repository_read_back_with_answers_inside_their_text() -> None:
    """The converted sets the shipped weights need travel with the repository (the given
    ../shared/data is read-only): gzipped DocNLI reads back, and every FriendsQA answer
    offset lies in its scene, on a sentence the training examples can take."""
    from training.answer_set import friends_questions, friends_scenes
    from training.data import SETS, read_jsonl

    first = next(read_jsonl(SETS / "docnli_binary" / "mnli_dev.jsonl.gz"))
    assert first["label"] in {"entailment", "not_entailment"} and first["hypothesis"]
    scenes = friends_scenes(held_out=False) + friends_scenes(held_out=True)
    assert len(scenes) == 249
    for row in scenes:
        for qa in row["questions"]:
            for start, end in qa["answers"]:
                assert 0 <= start < end <= len(row["text"]), qa["id"]
    used = sum(1 for row in scenes for _ in friends_questions(row))
    assert used >= 0.9 * sum(len(row["questions"]) for row in scenes)
    held_out = {row["episode"] for row in friends_scenes(held_out=True)}
    assert held_out.isdisjoint(row["episode"] for row in friends_scenes(held_out=False))
