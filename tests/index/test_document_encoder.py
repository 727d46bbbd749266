"""The ONNX document encoders: fp32 gives torch's vectors and chunks without torch; int8
is close and recorded as a model of its own; models the ONNX path cannot read fall back
(onnx) or are refused (int8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index import ConfigError, SentenceTransformerEmbedder
from index.document_encoder import OnnxDocumentEncoder, document_encoder
from index.embedder import HFTokenizer
from tests.helpers.cli import run_cited
from tests.models import build_tiny_model

TEXTS = [
    "The harbour master posts the tide table every Monday.",
    "Café crème, naïve résumé — and a ½-price ticket for the 07:45 ferry!",
    " ".join(f"Sentence {i} about the old mill and its water wheel." for i in range(80)),
    "x",
]


@pytest.fixture(scope="module")
def cache() -> Path:
    """The session's model cache (tests/conftest.py): the export is made once."""
    return Path(os.environ["CITED_MODEL_CACHE_DIR"])


def test_onnx_documents_are_torchs_vectors_and_chunks(
    embedder: SentenceTransformerEmbedder, cache: Path
) -> None:
    onnx = OnnxDocumentEncoder(embedder.model_name, cache)
    assert onnx.model_name == embedder.model_name  # the same model for the store
    assert onnx.dimension == embedder.dimension
    assert onnx.max_tokens == embedder.max_tokens
    ours = onnx.embed_documents(TEXTS)  # the long one truncated as torch truncates it
    assert np.abs(ours - embedder.embed_documents(TEXTS)).max() <= 1e-5
    reference = HFTokenizer(embedder.model.tokenizer)
    for text in [*TEXTS, ""]:
        assert onnx.tokenizer.offsets(text) == reference.offsets(text)


def test_int8_documents_are_close_and_recorded_as_another_model(
    embedder: SentenceTransformerEmbedder, cache: Path
) -> None:
    int8 = OnnxDocumentEncoder(embedder.model_name, cache, int8=True)
    assert int8.model_name == embedder.model_name + " [int8]"
    ours, theirs = int8.embed_documents(TEXTS), embedder.embed_documents(TEXTS)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.98
    assert np.abs(ours - theirs).max() > 1e-4  # int8 indeed: not the fp32 vectors


@pytest.mark.slow
def test_a_model_without_a_fast_tokenizer_falls_back_or_is_refused(tmp_path: Path) -> None:
    folder = build_tiny_model(tmp_path, max_seq_length=64)
    (folder / "tokenizer.json").unlink()
    torch_side = SentenceTransformerEmbedder(str(folder))
    onnx = document_encoder("onnx", torch_side, tmp_path / "models")
    vectors = onnx.embed_documents(TEXTS[:2])
    assert np.array_equal(vectors, torch_side.embed_documents(TEXTS[:2]))
    assert not (tmp_path / "models").exists()  # nothing exported
    int8 = document_encoder("int8", torch_side, tmp_path / "models")
    with pytest.raises(ConfigError, match="CITED_DOCUMENT_ENCODER=torch"):
        int8.embed_documents(TEXTS[:2])


@pytest.mark.slow
def test_after_cited_prepare_cited_ingest_never_imports_torch(tmp_path: Path) -> None:
    """About 600 MB and 3 s less per run (bench/ingest_memory.py)."""
    cache = {"CITED_MODEL_CACHE_DIR": str(tmp_path / "models")}  # empty: prepare fills it
    prepared = run_cited(tmp_path / "data", "prepare", env=cache)
    assert prepared.returncode == 0, prepared.stderr
    assert "ready for ingestion" in prepared.stdout
    assert list((tmp_path / "models").glob("*.onnx"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.txt").write_text(TEXTS[0])
    (docs / "mill.md").write_text("# Mill\n\n" + TEXTS[2])
    script = (
        "import sys\n"
        "from api.cli import main\n"
        "sys.argv = ['cited', 'ingest', sys.argv[1]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    env = {**os.environ, "CITED_DATA_DIR": str(tmp_path / "data"), **cache}
    env.pop("CITED_DATABASE_URL", None)
    env["CITED_DOCUMENT_ENCODER"] = "onnx"
    done = subprocess.run(
        [sys.executable, "-c", script, str(docs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.slow
def test_an_export_that_cannot_be_written_falls_back_or_is_refused(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # the cache folder would have to be inside a file
    onnx = document_encoder("onnx", embedder, blocked / "models")
    assert np.array_equal(onnx.embed_documents(TEXTS[:2]), embedder.embed_documents(TEXTS[:2]))
    int8 = document_encoder("int8", embedder, blocked / "models")
    with pytest.raises(ConfigError, match="CITED_MODEL_CACHE_DIR"):
        int8.embed_documents(TEXTS[:2])
