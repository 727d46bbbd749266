"""Switching embedding models: refused until `cited reindex --reembed`, which re-embeds in
one transaction and refuses models that would truncate existing chunks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import run_cited
from tests.models import tiny_bert

pytestmark = pytest.mark.slow


def build_tiny_model(folder: Path, max_seq_length: int) -> Path:
    """A random 1-layer BERT sentence-transformers model (dimension 32) with the default
    model's tokenizer, saved like any downloaded model and loaded through the same code."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import BertModel

    tokenizer, config = tiny_bert(max_position_embeddings=512)
    raw = folder / "raw"
    BertModel(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    word = models.Transformer(str(raw), max_seq_length=max_seq_length)
    pooling = models.Pooling(word.get_embedding_dimension(), "mean")
    out = folder / "tiny-model"
    SentenceTransformer(modules=[word, pooling]).save(str(out))
    return out


def test_reembed_switches_models_atomically_and_refuses_truncation(tmp_path: Path) -> None:
    data, docs = tmp_path / "data", tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.txt").write_text("The harbour master posts the tide table every Monday.")
    (docs / "bells.txt").write_text("The chapel bells ring twice at noon on feast days.")
    (docs / "long.txt").write_text(" ".join(f"Sentence {i} about the old mill." for i in range(60)))
    assert run_cited(data, "ingest", str(docs)).returncode == 0
    tiny = {"CITED_EMBEDDING_MODEL": str(build_tiny_model(tmp_path, max_seq_length=64))}

    refused = run_cited(data, "search", "tide table", env=tiny)
    assert refused.returncode == 1 and "cited reindex --reembed" in refused.stderr

    # The long document's chunks (up to 254 tokens) do not fit a 64-token model.
    truncating = run_cited(data, "reindex", "--reembed", env=tiny)
    assert (
        truncating.returncode == 2
        and "would truncate them; nothing was changed" in truncating.stderr
    )
    still = json.loads(run_cited(data, "search", "tide table", "--json").stdout)
    assert still[0]["text"].startswith("The harbour master")  # the old model still works

    long_id = next(
        d["id"]
        for d in json.loads(run_cited(data, "docs", "list", "--json").stdout)
        if d["source"].endswith("long.txt")
    )
    assert run_cited(data, "docs", "rm", long_id).returncode == 0
    switched = run_cited(data, "reindex", "--reembed", env=tiny)
    assert switched.returncode == 0, switched.stderr
    assert "re-embedded 2 chunks" in switched.stdout and "rebuilt: 2 vectors" in switched.stdout
    assert json.loads((data / "vectors.json").read_text())["dimension"] == 32

    hits = json.loads(run_cited(data, "search", "tide table", "--json", env=tiny).stdout)
    assert len(hits) == 2
    old = run_cited(data, "search", "tide table")
    assert old.returncode == 1 and "tiny-model" in old.stderr and "reembed" in old.stderr
