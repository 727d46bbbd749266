"""Requests a browser was tricked into sending: DNS rebinding and cross-site writes.

A server on 127.0.0.1 without API keys trusts whoever can reach it, and so any web page
the user visits could reach it through the user's browser:
- *DNS rebinding*: a page at rebind.evil.example points its name at 127.0.0.1 and reads
  the answers as same-origin. Its requests carry `Host: rebind.evil.example`, so a server
  bound to loopback answers only the host names of this machine (`CITED_ALLOWED_HOSTS`
  to add others, e.g. a reverse proxy's name); 400 otherwise.
- *Cross-site request forgery*: a page posts a form or a `fetch` with `mode: no-cors` to
  add or delete documents; it cannot read the answer, but the write happens. With no API
  keys, unsafe methods (POST, PUT, PATCH, DELETE) from another site are refused (403): a
  browser says where a request comes from in `Sec-Fetch-Site` (same-origin and none, the
  user's own navigation, pass) or, for older browsers, `Origin` (it must be this server
  or one of `CITED_CORS_ORIGINS`). Clients that are not browsers send neither and pass.

With API keys, the browser does not hold the key (the chat page keeps it in session
storage and sends it itself), so a forged request has none and gets 401 anyway; the host
check still applies on loopback. Deliberately not done: checking safe methods (a GET
from another site cannot read the answer without CORS).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import is_loopback
from api.responses import send_error
from index.errors import CrossSiteRequest, HostNotAllowed

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_SITE_VALUES = frozenset({"same-origin", "none"})


def host_name(authority: str) -> str:
    """The host of a `host[:port]` authority, lower case, IPv6 brackets removed."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1 : authority.find("]")] if "]" in authority else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def allowed_hosts(bind: str, configured: Iterable[str]) -> frozenset[str] | None:
    """The Host names to answer, or None for any: configured names (`*` = any) plus this
    machine's names on a loopback bind; any on other binds unless configured."""
    names = {n.strip().lower() for n in configured if n.strip()}
    if "*" in names:
        return None
    if is_loopback(bind):
        return frozenset(names | LOCAL_HOSTS | {host_name(bind)})
    return frozenset(names | {host_name(bind)}) if names else None


class RequestGuard:
    """Refuse requests for other host names (DNS rebinding) and, when the server has no
    API keys, unsafe requests from other sites (CSRF)."""

    def __init__(
        self,
        app: ASGIApp,
        hosts: frozenset[str] | None,
        check_origin: bool,
        trusted_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.check_origin = check_origin
        self.trusted = {o.rstrip("/").lower() for o in trusted_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host")
        if self.hosts is not None and host is not None and host_name(host) not in self.hosts:
            await send_error(
                send,
                HostNotAllowed(
                    f"this server does not answer for the host {host_name(host)!r}; add it "
                    "to CITED_ALLOWED_HOSTS if it is this server's name"
                ),
            )
            return
        if self.check_origin and scope["method"] in UNSAFE_METHODS:
            problem = self._cross_site(headers, host)
            if problem is not None:
                await send_error(send, CrossSiteRequest(problem))
                return
        await self.app(scope, receive, send)

    def _cross_site(self, headers: dict[str, str], host: str | None) -> str | None:
        origin = headers.get("origin")
        if origin is not None:
            origin = origin.rstrip("/").lower()
            if origin in self.trusted or "*" in self.trusted:
                return None
            if origin != "null" and host is not None and urlsplit(origin).netloc == host.lower():
                return None
            return (
                f"refused a {origin} page's request to change this server: with no API keys, "
                "only this server's own pages may write. Set CITED_API_KEYS, or list the "
                "origin in CITED_CORS_ORIGINS"
            )
        site = headers.get("sec-fetch-site")
        if site is not None and site not in SAME_SITE_VALUES:
            return (
                f"refused a {site} request to change this server: with no API keys, only "
                "this server's own pages may write. Set CITED_API_KEYS, or list the origin "
                "in CITED_CORS_ORIGINS"
            )
        return None
