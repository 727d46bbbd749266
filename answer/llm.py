"""A client for any OpenAI-compatible chat server (OpenAI, vLLM, Ollama, llama.cpp server):
POST {base_url}/chat/completions, streamed (server-sent events) or whole.

Connection failures, timeouts, 429 and 5xx are retried with exponential backoff, but only
before the first token arrived: a stream that broke half way is an error, never a silent
truncation. Errors name the URL and say what to check. The API key is sent as a bearer
token and never logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx

from index import ConfigError, UpstreamError, UpstreamTimeout

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})

Message = dict[str, str]


class ChatClient:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"CITED_LLM_BASE_URL must be an http(s) URL such as "
                f"http://localhost:11434/v1, got {base_url!r}"
            )
        if not model.strip():
            raise ConfigError("CITED_LLM_MODEL is empty; name the model the server should run")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ConfigError(
                f"CITED_LLM_TIMEOUT must be positive and CITED_LLM_RETRIES non-negative, "
                f"got {timeout} and {retries}"
            )
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.retries = retries
        self.backoff = backoff
        self.max_tokens = max_tokens
        self.temperature = temperature
        headers = {"Accept": "text/event-stream, application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers
        )

    def close(self) -> None:
        self._http.close()

    def complete(self, messages: list[Message]) -> str:
        return "".join(self.stream(messages))

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """The reply's text, piece by piece as the server produces it."""
        body = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        attempt = 0
        while True:
            started = False
            try:
                with self._http.stream("POST", self.url, json=body) as response:
                    if response.status_code in RETRY_STATUS and attempt < self.retries:
                        raise _Retry(f"HTTP {response.status_code}")
                    if response.status_code >= 400:
                        response.read()
                        raise UpstreamError(
                            f"the language model server at {self.url} answered HTTP "
                            f"{response.status_code}: {_error_text(response)}"
                        )
                    for piece in _pieces(response, self.url):
                        started = True
                        yield piece
                    return
            except _Retry as retry:
                reason = str(retry)
            except httpx.TimeoutException as exc:
                if started or attempt >= self.retries:
                    raise UpstreamTimeout(
                        f"the language model server at {self.url} did not answer within the "
                        f"timeout (CITED_LLM_TIMEOUT) after {attempt + 1} attempts ({exc!r})"
                    ) from exc
                reason = "timeout"
            except httpx.TransportError as exc:
                if started or attempt >= self.retries:
                    raise UpstreamError(
                        f"cannot reach the language model server at {self.url} ({exc}); check "
                        "CITED_LLM_BASE_URL and that the server is running"
                    ) from exc
                reason = type(exc).__name__
            delay = self.backoff * 2**attempt
            log.warning(
                "language model call failed, retrying url=%s reason=%s delay_s=%.2f",
                self.url,
                reason,
                delay,
            )
            time.sleep(delay)
            attempt += 1


class _Retry(Exception):
    pass


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message", error) if isinstance(error, dict) else error
        return str(message)[:300]
    except ValueError:
        return response.text[:300] or response.reason_phrase


def _pieces(response: httpx.Response, url: str) -> Iterator[str]:
    """Text deltas of a streamed (SSE) or whole (JSON) chat completion."""
    kind = response.headers.get("content-type", "")
    if "text/event-stream" not in kind:
        response.read()
        yield _message_text(_json(response.text, url), url)
        return
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        chunk = _json(payload, url)
        if "error" in chunk:
            raise UpstreamError(f"the language model server at {url} failed: {chunk['error']}")
        for choice in chunk.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield text


def _json(text: str, url: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UpstreamError(
            f"the language model server at {url} sent something that is not JSON: {text[:200]!r}"
        ) from exc
    if not isinstance(value, dict):
        raise UpstreamError(f"the language model server at {url} sent {text[:200]!r}")
    return value


def _message_text(data: dict[str, Any], url: str) -> str:
    try:
        content = data["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise UpstreamError(
            f"the language model server at {url} sent a reply without choices[0].message"
        ) from exc
    return content or ""
