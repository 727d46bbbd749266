"""API keys: who may call what, over which collections.

Keys come from `CITED_API_KEYS` (entries separated by ";", each `token[:scopes[:collections]]`
with "," inside the lists, e.g. `s3cret:ask,read:hr,legal`; a bare token may do everything)
and/or a JSON keys file `CITED_API_KEYS_FILE`:

    [{"name": "hr-bot", "key_sha256": "<hex>", "scopes": ["ask", "read"], "collections": ["hr"]}]

(`key` instead of `key_sha256` holds the token in clear). Scopes: `ask` (ask, search, chat
completions), `read` (documents, collections, jobs, metrics), `ingest` (upload, create a
collection), `delete` (delete documents and collections); `*` = all four. Clients send
`Authorization: Bearer <token>`. Tokens are compared by their SHA-256 digest, in constant time.

With no keys configured every request is allowed: `cited serve` then refuses a non-loopback
address unless told `--insecure`. Deliberately not done: key rotation without a restart,
per-key rate limits.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from index import ConfigError
from index.errors import Forbidden, Unauthorized

ScopeName = Literal["ask", "read", "ingest", "delete"]
SCOPES: tuple[ScopeName, ...] = get_args(ScopeName)


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: bytes  # sha256 of the token
    scopes: frozenset[ScopeName]
    collections: frozenset[str] | None  # None = every collection

    def allows(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _scopes(values: list[str], where: str) -> frozenset[ScopeName]:
    if not values or values == ["*"]:
        return frozenset(SCOPES)
    unknown = [v for v in values if v not in SCOPES]
    if unknown:
        raise ConfigError(f"{where}: unknown scope {unknown[0]!r}; use {', '.join(SCOPES)} or *")
    return frozenset(v for v in SCOPES if v in values)


def parse_keys(spec: str) -> list[ApiKey]:
    """Keys from the `CITED_API_KEYS` syntax."""
    keys = []
    for n, entry in enumerate((e.strip() for e in spec.split(";")), start=1):
        if not entry:
            continue
        token, _, rest = entry.partition(":")
        scopes, _, collections = rest.partition(":")
        where = f"CITED_API_KEYS entry {n}"
        if len(token.strip()) < 8:
            raise ConfigError(
                f"{where}: the token is shorter than 8 characters; use a long random one"
            )
        names = [c.strip() for c in collections.split(",") if c.strip()]
        keys.append(
            ApiKey(
                f"key {n}",
                _digest(token.strip()),
                _scopes([s.strip() for s in scopes.split(",") if s.strip()], where),
                frozenset(names) if names else None,
            )
        )
    return keys


def load_keys_file(path: Path) -> list[ApiKey]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read the keys file {path} (CITED_API_KEYS_FILE): {exc.strerror or exc}"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"the keys file {path} is not valid JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise ConfigError(f"the keys file {path} must hold a JSON list of keys")
    keys = []
    for n, entry in enumerate(entries, start=1):
        where = f"{path} key {n}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: each key is an object with key or key_sha256")
        if "key_sha256" in entry:
            try:
                digest = bytes.fromhex(str(entry["key_sha256"]))
            except ValueError:
                digest = b""
            if len(digest) != 32:
                raise ConfigError(f"{where}: key_sha256 must be 64 hex digits")
        elif isinstance(entry.get("key"), str) and len(entry["key"]) >= 8:
            digest = _digest(entry["key"])
        else:
            raise ConfigError(f"{where}: give key (8 characters or more) or key_sha256")
        scopes = entry.get("scopes", ["*"])
        collections = entry.get("collections")
        if not isinstance(scopes, list) or not (
            collections is None or isinstance(collections, list)
        ):
            raise ConfigError(f"{where}: scopes and collections must be lists")
        keys.append(
            ApiKey(
                str(entry.get("name") or f"key {n}"),
                digest,
                _scopes([str(s) for s in scopes], where),
                frozenset(str(c) for c in collections) if collections else None,
            )
        )
    return keys


class Keys:
    """The configured keys; `check()` turns an Authorization header into the caller's key."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys

    def check(self, authorization: str | None, scope: ScopeName | None) -> ApiKey | None:
        """The caller's key, having `scope` (any valid key for None); None when no keys are
        configured."""
        if not self.keys:
            return None
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(
                "this server requires an API key: send the header `Authorization: Bearer <key>`"
            )
        digest = _digest(token.strip())
        found = None
        for key in self.keys:  # every key compared, in constant time
            if hmac.compare_digest(key.digest, digest):
                found = key
        if found is None:
            raise Unauthorized("the API key is not valid; check it with the server's operator")
        if scope is not None and scope not in found.scopes:
            raise Forbidden(
                f"the API key {found.name!r} lacks the {scope!r} scope "
                f"(it has {', '.join(sorted(found.scopes))})"
            )
        return found


def check_collection(key: ApiKey | None, collection: str) -> None:
    if key is not None and not key.allows(collection):
        raise Forbidden(f"the API key {key.name!r} may not use the collection {collection!r}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
