"""Uploaded originals of different collections never share a folder, whatever their names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.server import running_server
from tests.helpers.app import app_client

# Before collection folders were named by id, "a/b" was kept in the folder "a_b-<hash>",
# a name another collection could take as is.
VICTIM, LOOKALIKE = "a/b", "a_b-c14cddc033f6"


def upload(client: httpx.Client, collection: str, name: str, text: str) -> dict[str, Any]:
    done = client.post(
        "/v1/documents?wait=true",
        data={"collection": collection},
        files={"files": (name, text.encode(), "text/plain")},
    )
    assert done.status_code == 200, done.text
    (file,) = done.json()["files"]
    assert file["status"] == "added", file
    result: dict[str, Any] = file
    return result


@pytest.mark.slow
def test_same_file_names_in_lookalike_collections_stay_apart(tmp_path: Path) -> None:
    with (
        running_server(tmp_path / "data", tmp_path / "server.log") as base,
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        victim = upload(client, VICTIM, "report.txt", "The victim's report: budget 40 units.\n")
        mine = upload(client, LOOKALIKE, "report.txt", "The other report: budget 99 units.\n")
        victim_file = f"/v1/documents/{victim['document_id']}/file"
        assert b"40 units" in client.get(victim_file).content
        assert b"99 units" in client.get(f"/v1/documents/{mine['document_id']}/file").content

        assert client.delete(f"/v1/documents/{mine['document_id']}").status_code == 200
        assert client.get(victim_file).status_code == 200
        upload(client, LOOKALIKE, "report.txt", "Uploaded again.\n")
        assert client.delete(f"/v1/collections/{LOOKALIKE}").status_code == 200
        still = client.get(victim_file)
        assert still.status_code == 200 and b"40 units" in still.content

        assert client.delete(f"/v1/collections/{VICTIM}").status_code == 200
        assert list((tmp_path / "data" / "files").glob("collection-*")) == []


@pytest.mark.parametrize("name", ["bad\x85name", "rtl\u202ename", "line\u2028break", "tab\there"])
def test_collection_names_with_control_characters_are_refused(tmp_path: Path, name: str) -> None:
    with app_client(tmp_path / "data") as client:
        created = client.post("/v1/collections", json={"name": name})
        assert created.status_code in (400, 422), created.text
        assert "name" in created.json()["error"]["message"]
        assert client.get("/v1/collections").json()["collections"] == []
