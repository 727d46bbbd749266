"""API key parsing and checking (api/auth.py); the HTTP auth matrix is in test_auth.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from api.auth import Keys, is_loopback, load_keys_file, parse_keys
from index import ConfigError
from index.errors import Forbidden, Unauthorized


def test_keys_from_the_environment_syntax() -> None:
    keys = parse_keys("reader-token-1:ask,read; admin-token-2 ;hr-token-3:ask:hr,legal")
    assert [sorted(k.scopes) for k in keys] == [
        ["ask", "read"],
        ["ask", "delete", "ingest", "read"],
        ["ask"],
    ]
    assert keys[0].collections is None and keys[2].collections == frozenset({"hr", "legal"})
    checker = Keys(keys)
    assert checker.check("Bearer reader-token-1", "read") is keys[0]
    assert checker.check("bearer  hr-token-3", "ask") is keys[2]
    with pytest.raises(Forbidden, match="lacks the 'ingest' scope"):
        checker.check("Bearer reader-token-1", "ingest")
    with pytest.raises(Unauthorized, match="not valid"):
        checker.check("Bearer wrong-token", "ask")
    with pytest.raises(Unauthorized, match="Authorization: Bearer"):
        checker.check(None, "ask")
    with pytest.raises(Unauthorized):
        checker.check("Basic reader-token-1", "ask")


def test_no_keys_means_open_and_bad_specs_name_the_entry() -> None:
    assert Keys([]).check(None, "delete") is None
    with pytest.raises(ConfigError, match="entry 2: unknown scope 'write'"):
        parse_keys("long-enough-1; long-enough-2:write")
    with pytest.raises(ConfigError, match="shorter than 8"):
        parse_keys("short")


def test_keys_file_with_hashed_and_clear_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps(
            [
                {
                    "name": "hr-bot",
                    "key_sha256": hashlib.sha256(b"hashed-token-1").hexdigest(),
                    "scopes": ["ask"],
                    "collections": ["hr"],
                },
                {"key": "clear-token-22"},
            ]
        )
    )
    keys = Keys(load_keys_file(path))
    assert keys.check("Bearer hashed-token-1", "ask").name == "hr-bot"  # type: ignore[union-attr]
    assert keys.check("Bearer clear-token-22", "delete") is not None
    path.write_text('[{"key_sha256": "abc"}]')
    with pytest.raises(ConfigError, match="64 hex digits"):
        load_keys_file(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_keys_file(path)
    with pytest.raises(ConfigError, match="cannot read the keys file"):
        load_keys_file(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
