"""Schemathesis, as an outside campaign ran it, over the served /openapi.json: every phase
(examples, coverage, fuzzing, stateful) and every check, so the schema must tell the truth
(status codes, content types, auth, what is accepted and refused) and no request may make
the server fail. Bounded (a fixed seed, 25 cases an operation) to run in CI; the checks the
schema cannot express are switched off, with reasons, in tests/api/schemathesis.toml.

Over SQLite with and without API keys, and once over PostgreSQL (without keys: the auth
code is the same on every store), which refuses values SQLite takes (NUL in text), so a
failure that only one store has is found too."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.server import running_server
from tests.conftest import POSTGRES_URL, _reset_postgres
from tests.corpus import write_corpus
from tests.helpers.cli import run_cited

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).with_name("schemathesis.toml")
KEY = "cited-schema-test-key-0123456789"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("schema") / "corpus")


def ingested(data: Path, corpus: Path, env: dict[str, str] | None = None) -> Path:
    """`data`, once `cited ingest` has put the corpus in its store (or env's)."""
    run = run_cited(data, "ingest", str(corpus), env=env)
    assert run.returncode == 0, run.stderr
    return data


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """A SQLite data dir over the corpus, shared by the SQLite runs."""
    return ingested(tmp_path_factory.mktemp("schema") / "data", corpus)


@pytest.fixture(
    params=[
        "without keys",
        "with a key",
        pytest.param("on PostgreSQL", marks=pytest.mark.postgres),
    ]
)
def api(
    request: pytest.FixtureRequest, corpus: Path, tmp_path: Path
) -> Iterator[tuple[str, list[str]]]:
    """(base URL, the st options that authenticate) of a server over the corpus."""
    env = {"CITED_PARSE_WORKERS": "1", "CITED_UPLOAD_MAX_MB": "2"}
    auth: list[str] = []
    if request.param == "with a key":
        env["CITED_API_KEYS"] = KEY
        auth = ["--header", f"Authorization: Bearer {KEY}"]
    if request.param == "on PostgreSQL":
        _reset_postgres(POSTGRES_URL)  # skips, saying why, when no server answers
        env["CITED_DATABASE_URL"] = POSTGRES_URL
        data = ingested(tmp_path / "data", corpus, {"CITED_DATABASE_URL": POSTGRES_URL})
    else:
        data = request.getfixturevalue("data")
    log = tmp_path / "server.log"
    with running_server(data, log, env, ready="/healthz") as base:
        yield base, auth
    assert "Traceback" not in log.read_text()


def test_the_schema_tells_the_truth(api: tuple[str, list[str]], tmp_path: Path) -> None:
    base, auth = api
    st = Path(sys.executable).with_name("st")
    command = [str(st), "--config-file", str(CONFIG), "run", base + "/openapi.json"]
    options = ["--max-examples", "25", "--seed", "12345", "--no-shrink", "--no-color", *auth]
    run = subprocess.run(
        [*command, *options],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,  # st keeps its replay files in .schemathesis/ there
    )
    assert run.returncode == 0, failures(run.stdout) + run.stderr[-2000:]
    assert "operations" in run.stdout.lower() and " passed" in run.stdout


def failures(report: str) -> str:
    """The failing operations and checks of a report, each line cut short (generated
    bodies run to megabytes)."""
    keep = ("___", "- ST", "Received", "Documented", "Expected", "`", "curl", "Failures", "❌")
    lines = [line.strip()[:300] for line in report.splitlines() if line.strip().startswith(keep)]
    return "\n".join(lines[:200])
