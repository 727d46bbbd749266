"""End to end through the CLI: ingest files with unique facts, ask about one, the answer
cites that file's exact sentence; ask about something absent, it abstains. Also `cited
search` modes and scopes, and batches of questions with --questions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.answer.helpers import SUPPORT_THRESHOLD
from tests.files import write_good_corpus
from tests.helpers.cli import run_cited


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    top = tmp_path_factory.mktemp("ask")
    write_good_corpus(top / "in")
    result = run_cited(top / "data", "ingest", str(top / "in"))
    assert result.returncode == 0, result.stderr
    return top / "in", top / "data"


def ask_json(data: Path, *args: str) -> dict[str, Any]:
    result = run_cited(data, "ask", *args, "--json")
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def document_text(data: Path, document_id: str) -> str:
    result = run_cited(data, "docs", "text", document_id)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("question", "name", "fact"),
    [
        (
            "How much power did the Zephyr turbine produce in the March storm?",
            "report.pdf",
            "The Zephyr turbine produced 812 kilowatts during the March storm.",
        ),
        (
            "When does the archive basement flood?",
            "memo.docx",
            "The archive basement floods whenever the Orne river rises above four metres.",
        ),
    ],
)
def test_the_answer_cites_the_files_exact_sentence(
    ingested: tuple[Path, Path], question: str, name: str, fact: str
) -> None:
    _, data = ingested
    answer = ask_json(data, question)
    assert not answer["abstained"], answer["reason"]
    first = answer["citations"][0]
    assert Path(first["source"]).name == name and first["quote"] == fact
    text = document_text(data, first["document_id"])
    assert text[first["start"] : first["end"]] == fact
    assert answer["sentences"][0]["support"] >= SUPPORT_THRESHOLD
    assert answer["answer"].startswith(fact[:-1] + " [1]")
    assert set(answer["timings_ms"]) >= {"retrieve", "generate", "verify", "total"}


def test_a_question_the_documents_do_not_answer_is_declined(ingested: tuple[Path, Path]) -> None:
    _, data = ingested
    answer = ask_json(data, "Who painted the ceiling of the Sistine Chapel?")
    assert answer["abstained"] and answer["citations"] == [] and answer["reason"]
    human = run_cited(data, "ask", "Who painted the ceiling of the Sistine Chapel?")
    assert human.returncode == 0
    assert human.stdout.startswith("The documents do not answer this question.\n(")


def test_human_output_lists_numbered_sources_with_quotes(ingested: tuple[Path, Path]) -> None:
    _, data = ingested
    result = run_cited(data, "ask", "What do the glassblowers of Murano cool their vases in?")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no log lines around the answer unless CITED_LOG_LEVEL asks
    answer, sources = result.stdout.split("\nSources:\n")
    assert "[1]" in answer
    assert sources.startswith("[1] ") and "page.html" in sources.splitlines()[0]
    assert '"The glassblowers of Murano cool their vases in volcanic sand."' in sources


def test_questions_file_gives_one_json_answer_per_line(
    ingested: tuple[Path, Path], tmp_path: Path
) -> None:
    _, data = ingested
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "How often does the lighthouse keeper log the tide?\n\n"
        '{"question": "When does the orchard robot prune apple trees?", "id": 7}\n'
        "Who won the 1998 World Cup?\n"
    )
    result = run_cited(data, "ask", "--questions", str(questions))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["abstained"] for line in lines] == [False, False, True]
    assert "40 minutes" in lines[0]["answer"] and "waning moon" in lines[1]["answer"]
    assert result.stderr.count("embedding model loaded") <= 1  # models load once

    logged = run_cited(data, "ask", "--questions", str(questions), env={"CITED_LOG_LEVEL": "info"})
    again = [json.loads(line)["answer"] for line in logged.stdout.splitlines()]
    assert again == [line["answer"] for line in lines]  # the same answers; logs on stderr
    assert "questions embedded by the cached ONNX export, without torch" in logged.stderr
    assert "embedding model loaded" not in logged.stderr  # the export made at ingestion

    questions.write_text('{"query": "no question field"}\n')
    bad = run_cited(data, "ask", "--questions", str(questions))
    assert bad.returncode == 2 and 'no "question"' in bad.stderr


def test_search_modes_and_scopes(ingested: tuple[Path, Path]) -> None:
    folder, data = ingested
    for mode in ("dense", "lexical", "hybrid"):
        result = run_cited(data, "search", "Zephyr turbine kilowatts", "--mode", mode, "--json")
        assert result.returncode == 0, result.stderr
        hits = json.loads(result.stdout)
        assert Path(hits[0]["source"]).name == "report.pdf", mode
    scoped = run_cited(
        data,
        "search",
        "Zephyr turbine kilowatts",
        "--source-prefix",
        str(folder / "memo"),
        "--json",
    )
    assert {Path(h["source"]).name for h in json.loads(scoped.stdout)} == {"memo.docx"}


def test_generative_mode_without_a_server_says_what_to_set(ingested: tuple[Path, Path]) -> None:
    _, data = ingested
    result = run_cited(data, "ask", "When does the archive flood?", "--mode", "generative")
    assert result.returncode == 2
    assert "CITED_LLM_BASE_URL" in result.stderr and "Traceback" not in result.stderr
    neither = run_cited(data, "ask")
    assert neither.returncode == 2 and "QUESTION or --questions" in neither.stderr


def test_generative_mode_through_the_cli_against_an_openai_server(
    ingested: tuple[Path, Path],
) -> None:
    from tests.openai_stub import Reply, serve

    _, data = ingested
    with serve() as stub:
        stub.replies(
            Reply("The archive basement floods when the Orne rises above four metres [1].")
        )
        env = {
            "CITED_LLM_BASE_URL": stub.base_url,
            "CITED_LLM_MODEL": "stub-model",
            "CITED_TOP_K": "1",
        }
        result = run_cited(
            data,
            "ask",
            "When does the archive basement flood?",
            "--mode",
            "generative",
            "--json",
            env=env,
        )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert not answer["abstained"] and answer["model"] == "stub-model"
    assert "Orne river" in answer["citations"][0]["quote"]
