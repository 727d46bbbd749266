"""The ONNX fast path for questions: same vectors as torch, exported once and cached,
and models it does not cover fall back to torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from index import SentenceTransformerEmbedder
from index.embedder import resolve_model_path
from index.onnx_fast import OnnxEncoder, cache_key


def test_fast_path_matches_torch_and_is_cached(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    fast = SentenceTransformerEmbedder(fast_path_dir=tmp_path / "models")
    question = "How long is the rye sourdough fermented before baking?"
    sentences = ["The bakery opens at six.", "Its rye sourdough is fermented for 36 hours."]
    np.testing.assert_allclose(
        fast.embed_query(question), embedder.embed_query(question), atol=1e-5
    )
    np.testing.assert_allclose(
        fast.embed_documents(sentences), embedder.embed_documents(sentences), atol=1e-5
    )
    assert fast._fast is not None  # the ONNX path answered, not torch
    (exported,) = (tmp_path / "models").glob("*.onnx")
    stamp = exported.stat().st_mtime_ns

    again = OnnxEncoder.load(
        fast.model, resolve_model_path(fast.model_name), tmp_path / "models", 1
    )
    assert again is not None and exported.stat().st_mtime_ns == stamp  # reused, not re-exported
    assert not list((tmp_path / "models").glob("*.tmp"))  # no temp files left


def test_the_same_model_installed_again_reuses_its_export(tmp_path: Path) -> None:
    """A new virtual environment holds the same model at another path, with new file
    times: it must find the export the first one made, not add another to the cache."""
    from sentence_transformers import SentenceTransformer

    cache = tmp_path / "models"
    first = SentenceTransformerEmbedder(fast_path_dir=cache)
    first.embed_query("warm up")
    (exported,) = cache.glob("*.onnx")
    stamp = exported.stat().st_mtime_ns

    again = tmp_path / "venv2" / "model"  # another path to the same files (the times are
    again.parent.mkdir()  # test_the_key_follows_the_model_contents's part)
    again.symlink_to(resolve_model_path(first.model_name), target_is_directory=True)
    model = SentenceTransformer(str(again), device="cpu")
    reinstalled = OnnxEncoder.load(model, str(again), cache, 1)
    assert reinstalled is not None
    assert list(cache.glob("*.onnx")) == [exported] and exported.stat().st_mtime_ns == stamp
    np.testing.assert_allclose(
        reinstalled.embed(["a question"]), first.embed_documents(["a question"]), atol=1e-5
    )


def test_the_key_follows_the_model_contents(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 8}')
    (model / "weights.bin").write_bytes(b"\x01" * 4096)
    cache = tmp_path / "cache"
    key = cache_key(str(model), 256, cache)
    assert list(cache.glob("*.digest"))  # remembered, so the next start does not hash
    assert cache_key(str(model), 256, cache) == key
    assert cache_key(str(model), 128, cache) != key  # the length is part of the export

    moved = tmp_path / "elsewhere" / "model"
    shutil.copytree(model, moved)
    os.utime(moved / "weights.bin", ns=(1, 1))
    assert cache_key(str(moved), 256, cache) == key  # the same contents

    (moved / "weights.bin").write_bytes(b"\x02" * 4096)  # same size, new time
    assert cache_key(str(moved), 256, cache) != key

    for memo in cache.glob("*.digest"):
        memo.write_text("half a digest")  # damaged: computed again, not trusted
    assert cache_key(str(model), 256, cache) == key


def test_concurrent_runs_give_the_same_vectors(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """Runs that overlap go to the one-thread session; their vectors must not change."""
    from concurrent.futures import ThreadPoolExecutor

    fast = SentenceTransformerEmbedder(fast_path_dir=tmp_path / "models")
    texts = [f"Question number {i} about the harbour and its ferries?" for i in range(48)]
    expected = embedder.embed_documents(texts)
    with ThreadPoolExecutor(8) as pool:
        rows = list(pool.map(lambda t: fast.embed_query(t), texts))
    np.testing.assert_allclose(np.stack(rows), expected, atol=1e-5)


def test_a_model_the_fast_path_does_not_cover_keeps_torch(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    word = models.Transformer(resolve_model_path("all-MiniLM-L6-v2"))
    pooling = models.Pooling(word.get_embedding_dimension(), "max")
    model = SentenceTransformer(modules=[word, pooling], device="cpu")
    assert OnnxEncoder.load(model, "max-pooled", tmp_path, 1) is None
    assert not list(tmp_path.iterdir())


NO_TORCH = """
import json, sys
from pathlib import Path
from index import SentenceTransformerEmbedder
embedder = SentenceTransformerEmbedder(fast_path_dir=Path(sys.argv[1]))
query = embedder.embed_query(sys.argv[2])
few = embedder.embed_documents(["The bakery opens at six.", "Rye is fermented for 36 hours."])
heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
print(json.dumps({"query": query.tolist(), "few": few.tolist(), "heavy": heavy,
                  "ready": embedder.loaded}))
"""


def test_questions_need_no_torch_once_the_export_is_cached(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """The export made once (here, or by `cited prepare`), a new process embeds questions
    and a few sentences from it and the model's files alone: the same vectors, and none of
    torch, transformers or sentence-transformers imported (seconds of every `cited ask`)."""
    cache = tmp_path / "models"
    SentenceTransformerEmbedder(fast_path_dir=cache).embed_query("export it")
    question = "How long is the rye sourdough fermented before baking?"
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(cache), question],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(done.stdout)
    assert out["heavy"] == [] and out["ready"]
    np.testing.assert_allclose(out["query"], embedder.embed_query(question), atol=1e-5)
    expected = embedder.embed_documents(
        ["The bakery opens at six.", "Rye is fermented for 36 hours."]
    )
    np.testing.assert_allclose(out["few"], expected, atol=1e-5)
