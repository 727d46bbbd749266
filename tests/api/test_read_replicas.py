"""Two servers over one PostgreSQL primary that read from its hot standby
(CITED_DATABASE_READ_URL), as on two machines: what one is given, the other cites within a
second; while the standby is held behind (replay paused), a document deleted through one is
cited by neither, both stay ready and say how far behind the standby is, and what was
uploaded meanwhile is cited through the other as soon as the standby replays it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from tests.api.server import running_server
from tests.api.test_replicas import cited_ids, upload
from tests.conftest import POSTGRES_URL, _reset_postgres
from tests.helpers.standby import replay_paused, require_standby, wait_replayed

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BRIDGE = (
    "The Hollow Bridge\n\nThe Hollow Bridge in Keswick was rebuilt in 1887 after a flood "
    "carried away the old wooden span.\n"
)
BRIDGE_QUESTION = "When was the Hollow Bridge in Keswick rebuilt?"
PIER = "The north pier was lengthened in 1901 to take the larger ferries.\n"
PIER_QUESTION = "When was the north pier lengthened?"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    standby = require_standby()
    _reset_postgres(POSTGRES_URL)
    wait_replayed(POSTGRES_URL, standby)
    top = tmp_path_factory.mktemp("read-replicas")
    env = {
        "CITED_DATABASE_URL": POSTGRES_URL,
        "CITED_DATABASE_READ_URL": standby,
        "CITED_FILES_DIR": str(top / "shared-files"),
    }
    with (
        running_server(top / "a", top / "a.log", env) as a,
        running_server(top / "b", top / "b.log", env) as b,
        httpx.Client(base_url=a, timeout=120) as client_a,
        httpx.Client(base_url=b, timeout=120) as client_b,
    ):
        yield SimpleNamespace(a=client_a, b=client_b, standby=standby)


def gauge(metrics: str, name: str) -> float:
    """The value of an unlabelled gauge in Prometheus text."""
    found = re.search(rf"^{name} (\S+)$", metrics, re.MULTILINE)
    assert found, f"no {name} in /metrics"
    return float(found.group(1))


def cited_within(client: httpx.Client, question: str, document_id: str, seconds: float) -> None:
    started = time.monotonic()
    while document_id not in cited_ids(client, question):
        assert time.monotonic() - started < seconds, f"not cited within {seconds} s"


def test_an_upload_through_one_is_cited_through_the_other_within_a_second(
    servers: SimpleNamespace,
) -> None:
    (file,) = upload(servers.a, "bridge.txt", BRIDGE)["files"]
    assert file["status"] == "added", file
    cited_within(servers.b, BRIDGE_QUESTION, file["document_id"], 1.0)
    ready = servers.b.get("/readyz").json()
    assert ready["read_replica"]["reading_from"] == "replica", ready
    assert ready["read_replica"]["url"].endswith(servers.standby.rsplit("@", 1)[1])


def test_while_the_standby_is_behind_a_deleted_document_is_never_cited(
    servers: SimpleNamespace,
) -> None:
    (bridge,) = upload(servers.a, "bridge-2.txt", BRIDGE.replace("1887", "1888"))["files"]
    cited_within(servers.b, BRIDGE_QUESTION, bridge["document_id"], 1.0)

    with replay_paused(servers.standby):
        assert servers.a.delete(f"/v1/documents/{bridge['document_id']}").status_code == 200
        (pier,) = upload(servers.a, "pier.txt", PIER)["files"]
        for client in (servers.a, servers.b):
            assert bridge["document_id"] not in cited_ids(client, BRIDGE_QUESTION)
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text  # lag is not unreadiness
            assert ready.json()["read_replica"]["behind"] >= 2, ready.text
        metrics = servers.b.get("/metrics").text
        assert gauge(metrics, "cited_read_replica_in_use") == 1
        assert gauge(metrics, "cited_read_replica_behind") >= 2
        # B follows the standby, which has not replayed the pier yet; A wrote it itself
        assert pier["document_id"] not in cited_ids(servers.b, PIER_QUESTION)
        assert pier["document_id"] in cited_ids(servers.a, PIER_QUESTION)

    cited_within(servers.b, PIER_QUESTION, pier["document_id"], 1.0)
    for client in (servers.a, servers.b):
        assert bridge["document_id"] not in cited_ids(client, BRIDGE_QUESTION)
        assert client.get("/readyz").json()["read_replica"]["behind"] == 0
    assert gauge(servers.b.get("/metrics").text, "cited_read_replica_behind") == 0
