"""Schemathesis over the served /openapi.json: requests generated from the schema, valid
and not, sent over real HTTP to `cited serve`; none may make the server fail (5xx)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.api.server import running_server
from tests.corpus import write_corpus
from tests.helpers.cli import run_cited

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    top = tmp_path_factory.mktemp("schema")
    folder = write_corpus(top / "corpus")
    assert run_cited(top / "data", "ingest", str(folder)).returncode == 0
    env = {"CITED_PARSE_WORKERS": "1", "CITED_UPLOAD_MAX_MB": "2"}
    with running_server(top / "data", top / "server.log", env) as base:
        yield base
    assert "Traceback" not in (top / "server.log").read_text()


EXAMPLES = 10


def test_no_generated_request_makes_the_server_fail(api: str) -> None:
    """Each operation of the schema, fuzzed with positive and negative cases. (Driven
    through hypothesis directly: schemathesis' pytest plugin does not load under pytest 9.)"""
    schema = schemathesis.openapi.from_url(api + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18

    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(mode))
        def no_server_error(case: schemathesis.Case) -> None:
            response = case.call(base_url=api, timeout=60)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            content_type = response.headers.get("content-type", [""])  # name -> values
            if response.status_code >= 400 and content_type[0].startswith("application/json"):
                error = response.json()["error"]
                assert set(error) == {"code", "message"} and error["message"], error

        try:
            no_server_error()
        except Unsatisfiable:  # no input to make invalid (GET /healthz and the like)
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
