"""Loading the reading models: the shipped deltas (checksum checked) and models a user
swaps in (CITED_ANSWER_MODEL / CITED_SUPPORT_MODEL), built here as tiny random models and
saved like downloaded ones, read through the same loading path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from answer import PairScorer
from answer.models import MANIFEST, WEIGHTS, folder_labels, load_bundled, support_label
from api import wiring
from api.settings import Settings
from index import ConfigError
from tests.answer.helpers import assert_contract
from tests.helpers.fixtures import AnswerKb, Readers
from tests.models import tiny_bert, tiny_classifier

PAIRS = [
    ("The bakery opens at six.", "The bakery opens early."),
    ("Loans last 28 days.", "Loans last a month and a half, and can be renewed."),
]


def test_the_shipped_models_give_probabilities(readers: Readers) -> None:
    support = readers.support.probabilities(PAIRS)
    assert readers.support.labels == ("supported", "contradicted", "not_enough_info")
    assert support.shape == (2, 3) and np.allclose(support.sum(axis=1), 1.0, atol=1e-5)
    answer = readers.answer.probabilities([("When does the bakery open?", PAIRS[0][0])])
    assert readers.answer.labels == ("answers",)
    assert 0.0 <= float(answer[0, 0]) <= 1.0
    assert readers.answer.loaded.threshold is not None  # calibrated at training


def test_scores_do_not_depend_on_the_batch(readers: Readers) -> None:
    together = readers.support.probabilities(PAIRS)
    alone = np.vstack([readers.support.probabilities([pair]) for pair in PAIRS])
    assert np.allclose(together, alone, atol=1e-4)


def test_the_onnx_fast_path_agrees_with_torch(readers: Readers, tmp_path: Path) -> None:
    fast = PairScorer("support", fast_path_dir=tmp_path)
    assert fast.fast and list(tmp_path.glob("support-*.onnx"))
    assert fast.loaded.network is None  # torch's copy let go: ~40 MB a reading model
    assert np.allclose(fast.probabilities(PAIRS), readers.support.probabilities(PAIRS), atol=1e-3)
    again = PairScorer("support", fast_path_dir=tmp_path)  # the cached export is reused
    assert again.fast and len(list(tmp_path.glob("*.onnx"))) == 1


LONG = " ".join(f"Clause {i} of the lease says the tenant pays {i} euros." for i in range(60))


@pytest.mark.slow
def test_a_cached_export_reads_pairs_alone_without_torch(readers: Readers, tmp_path: Path) -> None:
    """Once the export is cached, a new process reads the shipped models from it with the
    Rust tokenizer (no torch, no transformers), with torch's probabilities, long pairs
    truncated the same way."""
    pairs = [*PAIRS, (LONG, "The tenant pays 12 euros."), ("Who pays?", LONG)]
    for task in ("support", "answer"):
        assert PairScorer(task, fast_path_dir=tmp_path).fast  # exported and checked
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from answer import PairScorer\n"
        f"pairs = {pairs!r}\n"
        "out = {t: PairScorer(t, fast_path_dir=Path(sys.argv[1])).probabilities(pairs).tolist()"
        " for t in ('support', 'answer')}\n"
        "out['imported'] = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "print(json.dumps(out))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    out = json.loads(run.stdout)
    assert out["imported"] == []
    assert np.allclose(out["support"], readers.support.probabilities(pairs), atol=1e-3)
    assert np.allclose(out["answer"], readers.answer.probabilities(pairs), atol=1e-3)


def copy_weights(tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    shutil.copytree(WEIGHTS, folder)
    return folder


def test_a_corrupt_delta_is_refused_by_its_checksum(tmp_path: Path) -> None:
    folder = copy_weights(tmp_path)
    manifest = json.loads((folder / MANIFEST.name).read_text())
    delta = folder / manifest["support"]["file"]
    data = bytearray(delta.read_bytes())
    data[-10] ^= 0xFF
    delta.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="do not match their checksum"):
        load_bundled("support", folder)


def test_a_missing_delta_or_manifest_is_named(tmp_path: Path) -> None:
    folder = copy_weights(tmp_path)
    manifest = json.loads((folder / MANIFEST.name).read_text())
    (folder / manifest["answer"]["file"]).unlink()
    with pytest.raises(ConfigError, match="missing; reinstall cited or run `make models`"):
        load_bundled("answer", folder)
    (folder / MANIFEST.name).unlink()
    with pytest.raises(ConfigError, match=r"cannot read .*MANIFEST\.json"):
        load_bundled("support", folder)


def test_an_nli_model_is_read_by_its_label_names(tmp_path: Path) -> None:
    folder = tiny_classifier(
        tmp_path, {0: "CONTRADICTION", 1: "ENTAILMENT", 2: "NEUTRAL"}, name="tiny-nli"
    )
    scorer = PairScorer("support", str(folder))
    probabilities = scorer.probabilities(PAIRS)
    assert scorer.labels == ("contradicted", "supported", "not_enough_info")
    assert probabilities.shape == (2, 3)
    assert np.allclose(scorer.column(probabilities, "supported"), probabilities[:, 1])


def test_a_one_output_cross_encoder_is_a_probability(tmp_path: Path) -> None:
    scorer = PairScorer("answer", str(tiny_classifier(tmp_path)))
    probabilities = scorer.probabilities(PAIRS)
    assert scorer.labels == ("answers",) and probabilities.shape == (2, 1)
    assert ((probabilities > 0) & (probabilities < 1)).all()
    assert scorer.loaded.threshold is None  # a swapped-in model brings no calibration


def test_models_that_cannot_serve_are_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a model folder"):
        _ = PairScorer("support", str(tmp_path)).loaded
    odd = tiny_classifier(tmp_path, {0: "SPAM", 1: "HAM"}, name="tiny-spam")
    with pytest.raises(ConfigError, match="none of the model's labels"):
        _ = PairScorer("support", str(odd)).loaded
    three = tiny_classifier(tmp_path, {0: "a", 1: "b", 2: "c"}, name="tiny-three")
    with pytest.raises(ConfigError, match="an answer model needs 1 or 2 outputs"):
        _ = PairScorer("answer", str(three)).loaded
    with pytest.raises(ConfigError, match="CITED_ANSWER_MODEL is empty"):
        PairScorer("answer", "")


def test_two_labels_without_contradiction_are_support_or_not() -> None:
    _, config = tiny_bert(num_labels=2, id2label={0: "not_entailment", 1: "entailment"})
    assert folder_labels("support", config, "X") == ("not_enough_info", "supported")
    assert support_label("REFUTES") == "contradicted" and support_label("SPAM") is None


def test_swapped_in_models_serve_answers_through_the_settings(
    answer_kb: AnswerKb, embedder: object, tmp_path: Path
) -> None:
    """The user's path: settings name two local folders, the wiring builds the answerer,
    answers keep the contract (random models answer badly, but never break it)."""
    nli = tiny_classifier(tmp_path, {0: "entailment", 1: "neutral", 2: "contradiction"}, "nli")
    settings = Settings(
        data_dir=answer_kb[1],
        answer_model=str(tiny_classifier(tmp_path, name="answers")),
        support_model=str(nli),
        abstain_threshold=0.0,
        support_threshold=0.01,
    )
    kb = answer_kb[0]
    qa = wiring.question_answerer(settings, wiring.retriever(settings, kb, embedder))  # type: ignore[arg-type]
    try:
        answer = qa.ask("When is honey harvested?")
        assert not answer.abstained and answer.sentences
        assert_contract(answer.to_dict(), kb)
        assert qa.extractive.model.loaded.name == settings.answer_model
        assert qa.checker.model.loaded.name == str(nli)
    finally:
        qa.close()
