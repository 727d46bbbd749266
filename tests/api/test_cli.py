"""The `cited` command end to end, as an operator runs it (real subprocesses, real store)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from index import WriterLock
from tests.files import GOOD_FACTS, write_bad_corpus, write_good_corpus
from tests.helpers.cli import run_cited
from tests.helpers.fixtures import CliCorpus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """A folder of good and bad files, ingested once by the CLI (human summary)."""
    top = tmp_path_factory.mktemp("cli")
    write_good_corpus(top / "in")
    write_bad_corpus(top / "in" / "bad")
    first = run_cited(top / "data", "ingest", str(top / "in"))
    return top / "in", top / "data", first


def test_first_run_prints_the_summary_and_exits_1(corpus: CliCorpus) -> None:
    _, _, first = corpus
    assert first.returncode == 1, first.stderr
    summary = first.stdout
    assert "6 added, 0 updated, 0 unchanged, 8 failed" in summary
    for reason in (
        "empty file",
        "not a PDF",
        "damaged or truncated PDF",
        "encrypted PDF",
        "no extractable text",
        "over the limit of 2 MB",
        "symbolic link loop",
    ):
        assert reason in summary
    assert "Traceback" not in first.stderr


def test_second_run_reports_everything_unchanged(corpus: CliCorpus) -> None:
    folder, data, _ = corpus
    second = run_cited(data, "ingest", str(folder), "--json")
    report = json.loads(second.stdout)
    assert report["files"]["unchanged"] == 6 and report["files"]["added"] == 0
    assert report["files"]["updated"] == 0 and report["tokens_embedded"] == 0


def test_file_names_that_are_not_utf8_are_ingested_and_reported_as_json(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / os.fsdecode(b"budget-\xff.txt")).write_text(
        "The odd file says the budget is 40 units.\n"
    )
    (folder / "deadline.txt").write_text("The deadline of the audit is Friday.\n")

    first = run_cited(tmp_path / "data", "ingest", str(folder), "--json")
    assert first.returncode == 0, first.stderr
    outcomes = {Path(o["source"]).name: o["status"] for o in json.loads(first.stdout)["outcomes"]}
    assert outcomes == {"budget-\\xff.txt": "added", "deadline.txt": "added"}

    again = run_cited(tmp_path / "data", "ingest", str(folder))
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 updated, 2 unchanged, 0 failed" in again.stdout
    reparsed = run_cited(tmp_path / "data", "ingest", str(folder), "--reparse")
    assert reparsed.returncode == 0, reparsed.stderr
    assert "0 added, 2 updated, 0 unchanged, 0 failed" in reparsed.stdout
    hits = json.loads(run_cited(tmp_path / "data", "search", "budget units", "--json").stdout)
    assert hits[0]["source"].endswith("budget-\\xff.txt")


def test_docs_list_show_and_text_agree_on_offsets(corpus: CliCorpus) -> None:
    _, data, _ = corpus
    listed = json.loads(run_cited(data, "docs", "list", "--json").stdout)
    assert sorted(Path(d["source"]).name for d in listed) == sorted([*GOOD_FACTS, "latin1.txt"])
    pdf = next(d for d in listed if d["source"].endswith("report.pdf"))
    shown = json.loads(run_cited(data, "docs", "show", pdf["id"], "--json").stdout)
    text = run_cited(data, "docs", "text", pdf["id"]).stdout
    assert len(text) == shown["n_chars"]
    assert shown["chunks"] and all(
        text[c["start"] : c["end"]] == c["text"] for c in shown["chunks"]
    )
    assert GOOD_FACTS["report.pdf"] in text
    missing = run_cited(data, "docs", "show", "0" * 32)
    assert missing.returncode == 1 and "no document with id" in missing.stderr


def test_search_runs_a_file_of_queries_with_the_model_loaded_once(
    corpus: CliCorpus, tmp_path: Path
) -> None:
    _, data, _ = corpus
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        "How often does the lighthouse keeper log the tide?\n\n"
        '{"query": "turbine report", "id": 7}\n' + "x" * 5000 + "\n"
    )
    ran = run_cited(data, "search", "--queries", str(queries), "--top-k", "2")
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    assert ran.returncode == 1, ran.stderr  # the over-long query failed, and said so
    assert [line["query"][:20] for line in lines] == [
        "How often does the l",
        "turbine report",
        "x" * 20,
    ]
    assert lines[0]["passages"][0]["text"].endswith(GOOD_FACTS["notes.txt"])
    assert len(lines[1]["passages"]) == 2
    assert lines[2]["error"]["code"] == "bad_configuration"
    assert not ran.stderr  # quiet by default: the results alone, on stdout
    logged = run_cited(
        data, "search", "--queries", str(queries), "--top-k", "2", env={"CITED_LOG_LEVEL": "info"}
    ).stderr
    loads = logged.count("embedding model loaded") + logged.count("by the cached ONNX export")
    assert loads == 1, logged  # the model (or its export) is opened once for every query

    queries.write_text('{"question": "wrong field"}\n')
    bad = run_cited(data, "search", "--queries", str(queries))
    assert bad.returncode == 2 and 'line 1 has no "query" string' in bad.stderr
    both = run_cited(data, "search", "tide", "--queries", str(queries))
    assert both.returncode == 2 and "either a QUERY or --queries FILE" in both.stderr


def test_eval_reports_accuracy_abstention_citations_and_failures(
    corpus: CliCorpus, tmp_path: Path
) -> None:
    _, data, _ = corpus
    questions = tmp_path / "questions.jsonl"
    rows = [
        {
            "question": "How often does the lighthouse keeper log the tide?",
            "answers": ["every 40 minutes"],
            "source": "notes.txt",
        },
        {"question": "When do the glassblowers cool their vases?", "answers": ["at noon"]},
        {"question": "What is the capital of Peru?", "unanswerable": True},
    ]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ran = run_cited(data, "eval", str(questions), "--json")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    metrics = report["metrics"]
    assert metrics["questions"] == 3 and metrics["unanswerable"] == 1
    assert metrics["retrieval_hit_at_k"] == 1.0 and metrics["citation_validity"] == 1.0
    assert metrics["abstention_recall"] == 1.0
    assert [o["correct"] for o in report["outcomes"]] == [True, False, True]
    assert [f["line"] for f in report["failures"]] == [2]
    human = run_cited(data, "eval", str(questions))
    assert "answer accuracy (answerable)" in human.stdout and "Failures (1):" in human.stdout
    assert "line 2: When do the glassblowers cool their vases?" in human.stdout

    questions.write_text('{"question": "ok?"}\n{"answers": ["x"]}\n')
    bad = run_cited(data, "eval", str(questions))
    assert bad.returncode == 2 and 'line 2: expected an object with a "question"' in bad.stderr


def test_eval_fails_under_its_thresholds_naming_each_one_missed(
    corpus: CliCorpus, tmp_path: Path
) -> None:
    _, data, _ = corpus
    questions = tmp_path / "questions.jsonl"
    rows = [
        {"question": "How often does the lighthouse keeper log the tide?", "answers": ["40"]},
        {"question": "When do the glassblowers cool their vases?", "answers": ["at noon"]},
        {"question": "What is the capital of Peru?", "unanswerable": True},
    ]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    failed = run_cited(
        data,
        "eval",
        str(questions),
        "--json",
        "--fail-under",
        "correct=0.9,citation_validity=100%",
        "--fail-under",
        "retrieval_hit_at_k=0.5",
    )
    assert failed.returncode == 1, failed.stderr
    assert "threshold missed (--fail-under): correct 66.7% is under 90.0%" in failed.stderr
    assert "retrieval_hit_at_k was not measured: no question names its" in failed.stderr
    assert "citation_validity" not in failed.stderr  # met
    report = json.loads(failed.stdout)
    assert report["thresholds"] == {
        "correct": 0.9,
        "citation_validity": 1.0,
        "retrieval_hit_at_k": 0.5,
    }
    assert len(report["missed"]) == 2
    metrics = report["metrics"]
    assert metrics["timed_questions"] == 2 and metrics["warm_up_ms"] > 0
    assert [o["warm_up"] for o in report["outcomes"]] == [True, False, False]
    assert all(not o["warm_up"] for o in report["slowest"])

    met = run_cited(data, "eval", str(questions), "--fail-under", "correct=0.6")
    assert met.returncode == 0, met.stderr
    assert "thresholds met: correct >= 60.0%" in met.stderr
    assert "first question (loads the models" in met.stdout
    assert "latency p50 / p95 (2 warm questions)" in met.stdout

    for bad, says in (("declined=0.7", "names no measure"), ("correct=1.5", "from 0 to 1")):
        refused = run_cited(data, "eval", str(questions), "--fail-under", bad)
        assert refused.returncode == 2 and says in refused.stderr, refused.stderr


def test_eval_runs_the_docs_question_set_over_the_demo_corpus(tmp_path: Path) -> None:
    """What a newcomer runs after `make run` ingested docs/: every question is asked and
    every quote re-read from the store (the accuracy figures are bench/docs.py's)."""
    root = Path(__file__).resolve().parents[2]
    data = tmp_path / "data"
    ingest = run_cited(data, "ingest", str(root / "docs"), "--if-empty", "--json")
    assert ingest.returncode == 0, ingest.stderr
    ran = run_cited(data, "eval", str(root / "docs" / "questions.jsonl"), "--json")
    assert ran.returncode == 0, ran.stderr
    metrics = json.loads(ran.stdout)["metrics"]
    assert metrics["answerable"] >= 40 and metrics["unanswerable"] >= 10
    assert metrics["citation_validity"] == 1.0
    assert metrics["retrieval_hit_at_k"] is not None


def test_search_then_rm_then_never_found_again(corpus: CliCorpus) -> None:
    _, data, _ = corpus
    question = "How often does the lighthouse keeper log the tide?"
    hits = json.loads(run_cited(data, "search", question, "--json").stdout)
    assert hits[0]["text"].endswith(GOOD_FACTS["notes.txt"])
    removed = run_cited(data, "docs", "rm", hits[0]["document_id"])
    assert removed.returncode == 0 and "removed 1 documents" in removed.stdout

    after = json.loads(run_cited(data, "search", question, "--json", "--top-k", "100").stdout)
    assert after and all(GOOD_FACTS["notes.txt"] not in hit["text"] for hit in after)
    assert all(hit["document_id"] != hits[0]["document_id"] for hit in after)
    rebuilt = run_cited(data, "reindex")
    assert rebuilt.returncode == 0 and f"{len(after)} vectors" in rebuilt.stdout


def test_another_embedding_model_is_refused(corpus: CliCorpus) -> None:
    _, data, _ = corpus
    refused = run_cited(data, "search", "anything", env={"CITED_EMBEDDING_MODEL": "other/model"})
    assert refused.returncode == 1
    assert "cited reindex --reembed" in refused.stderr and "Traceback" not in refused.stderr


def test_a_folder_in_place_of_the_vector_file_is_moved_aside_and_search_answers(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "tide.txt").write_text("The lighthouse keeper logs the tide every hour.\n")
    assert run_cited(tmp_path / "data", "ingest", str(folder)).returncode == 0
    vectors = tmp_path / "data" / "vectors.faiss"
    vectors.unlink()
    vectors.mkdir()  # as an operator's `rm data/vectors.faiss && mkdir data/vectors.faiss`
    (vectors / "notes.txt").write_text("kept")

    searched = run_cited(tmp_path / "data", "search", "tide", "--json")

    assert searched.returncode == 0, searched.stderr
    assert "Traceback" not in searched.stderr
    assert json.loads(searched.stdout)[0]["source"] == str(folder / "tide.txt")
    (aside,) = vectors.parent.glob("vectors.faiss.folder-moved-aside-*")
    assert f"path={vectors} moved_to={aside}" in searched.stderr
    assert vectors.is_file() and (aside / "notes.txt").read_text() == "kept"


def test_second_writer_is_told_to_wait(corpus: CliCorpus) -> None:
    folder, data, _ = corpus
    with WriterLock(data):
        blocked = run_cited(data, "ingest", str(folder))
    assert blocked.returncode == 1
    assert f"pid {os.getpid()}" in blocked.stderr and "wait for it to finish" in blocked.stderr


def test_usage_and_setting_errors_exit_2_naming_the_problem(tmp_path: Path) -> None:
    no_paths = run_cited(tmp_path, "ingest")
    assert no_paths.returncode == 2 and "PATHS" in no_paths.stderr
    bad = run_cited(tmp_path, "config", env={"CITED_CHUNK_TOKENS": "lots"})
    assert bad.returncode == 2 and "CITED_CHUNK_TOKENS" in bad.stderr


def test_config_prints_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    url = "postgresql+psycopg://reader:hunter2@db.internal/cited"
    standby = "postgresql+psycopg://reader:hunter3@standby.internal/cited"
    shown = run_cited(
        tmp_path,
        "config",
        "--json",
        env={"CITED_DATABASE_URL": url, "CITED_DATABASE_READ_URL": standby},
    )
    settings = json.loads(shown.stdout)
    assert "hunter2" not in shown.stdout and "hunter3" not in shown.stdout
    assert settings["database_url"] == "postgresql+psycopg://reader:***@db.internal/cited"
    assert settings["database_read_url"] == "postgresql+psycopg://reader:***@standby.internal/cited"
    assert settings["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert settings["data_dir"] == str(tmp_path)


def test_read_only_commands_elsewhere_name_the_data_folder_and_make_none(tmp_path: Path) -> None:
    """Run from another folder, CITED_DATA_DIR unset: ./data of that folder is not there,
    and the commands that only read say so (absolutely) instead of making an empty store."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = elsewhere / "data"
    for args in (
        ("docs", "list"),
        ("docs", "show", "abc"),
        ("docs", "text", "abc"),
        ("docs", "rm", "abc"),
        ("search", "tide"),
        ("ask", "When is the tide logged?"),
        ("reindex",),
    ):
        ran = run_cited(None, *args, cwd=elsewhere)
        assert ran.returncode == 2, (args, ran.stderr)
        assert f"the data folder {data} does not exist" in ran.stderr, ran.stderr
        assert "export CITED_DATA_DIR=" in ran.stderr and "Traceback" not in ran.stderr
    shown = run_cited(None, "config", cwd=elsewhere)
    assert shown.returncode == 0, shown.stderr
    assert f"# data folder: {data} (does not exist" in shown.stdout
    assert not data.exists()

    manifest = json.loads((Path(__file__).parents[2] / "answer/weights/MANIFEST.json").read_text())
    lines = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
    assert lines["CITED_DATA_DIR"].split()[0] == str(data)
    files, source = lines["CITED_FILES_DIR"].split("#")
    assert files.strip() == str(data / "files") and source.strip() == "unset: <data dir>/files"
    assert float(lines["CITED_ABSTAIN_THRESHOLD"].split()[0]) == manifest["answer"]["threshold"]
    assert lines["CITED_LOG_LEVEL"].split()[0] == "warning"
    assert "None" not in shown.stdout
    as_json = json.loads(run_cited(None, "config", "--json", cwd=elsewhere).stdout)
    assert as_json["files_dir"] == str(data / "files")
    assert as_json["abstain_threshold"] == manifest["answer"]["threshold"]
    set_here = run_cited(None, "config", cwd=elsewhere, env={"CITED_TOP_K": "7"}).stdout
    assert "CITED_TOP_K=7" in set_here and "# environment" in set_here


def test_an_empty_store_is_named_where_nothing_is_found(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    data = tmp_path / "data"
    assert run_cited(data, "ingest", str(tmp_path / "nothing")).returncode == 0
    listed = run_cited(data, "docs", "list")
    assert listed.returncode == 0 and f"no documents in the store at {data};" in listed.stderr
    searched = run_cited(data, "search", "tide")
    assert searched.returncode == 0 and not searched.stdout
    assert f"note: the store at {data} has no documents" in searched.stderr
    asked = run_cited(data, "ask", "When is the tide logged?")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith("The documents do not answer this question.")
    assert f"note: the store at {data} has no documents" in asked.stderr
    scoped = run_cited(data, "docs", "list", "--collection", "hr")
    assert f"no documents in collection 'hr' of the store at {data}" in scoped.stderr
