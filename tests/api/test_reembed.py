"""Switching embedding models: refused until `cited reindex --reembed`, which re-embeds in
one transaction and refuses models that would truncate existing chunks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import run_cited
from tests.models import build_tiny_model

pytestmark = pytest.mark.slow


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


def test_int8_documents_are_a_model_change_the_store_records(tmp_path: Path) -> None:
    data, docs = tmp_path / "data", tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.txt").write_text("The harbour master posts the tide table every Monday.")
    (docs / "bells.txt").write_text("The chapel bells ring twice at noon on feast days.")
    assert run_cited(data, "ingest", str(docs)).returncode == 0  # fp32 (onnx, the default)
    int8 = {"CITED_DOCUMENT_ENCODER": "int8"}

    (docs / "mill.txt").write_text("The old mill grinds barley on Thursdays.")
    refused = run_cited(data, "ingest", str(docs), env=int8)
    assert refused.returncode == 1 and "cited reindex --reembed" in refused.stderr
    assert "all-MiniLM-L6-v2 [int8]" in refused.stderr

    switched = run_cited(data, "reindex", "--reembed", env=int8)
    assert switched.returncode == 0, switched.stderr
    assert "re-embedded 2 chunks with sentence-transformers/all-MiniLM-L6-v2 [int8]" in (
        switched.stdout
    )
    assert run_cited(data, "ingest", str(docs), env=int8).returncode == 0
    hits = json.loads(run_cited(data, "search", "when is barley ground", "--json", env=int8).stdout)
    assert hits[0]["text"].startswith("The old mill")
    back = run_cited(data, "search", "tide table")  # fp32 again: refused until re-embedded
    assert back.returncode == 1 and "reembed" in back.stderr
