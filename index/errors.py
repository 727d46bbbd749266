"""The one exception tree of cited, shared by every stage (index is the leftmost stage).

    CitedError                  500 / exit 1   anything cited raises on purpose
    ├── ConfigError             400 / exit 2   a bad setting or argument; the message names it
    │   └── InvalidRequest                     a request to send otherwise (a blank question)
    ├── HostNotAllowed          400            a Host header this server does not answer for
    ├── Unauthorized            401            no API key, or not a valid one
    ├── Forbidden               403            the key lacks the scope or the collection
    │   └── CrossSiteRequest                   an unsafe request from another site (no keys set)
    ├── NotFoundError           404 / exit 1   a document, chunk or collection id that is not there
    │   └── ModelNotFound                      an OpenAI-compatible "model" that is no collection
    ├── ConflictError           409 / exit 1
    │   ├── ModelMismatchError                 the index was built with another embedding model
    │   └── WriterLockedError                  another process is writing to the same data dir
    ├── TooLarge                413            a request body over its limit
    │   └── TooManyFiles                       an upload of more files than CITED_UPLOAD_MAX_FILES
    ├── ParseError              422 / exit 1   a file could not be turned into text (reason inside)
    ├── StoreError              500 / exit 1   the SQL store or the vector index is unusable
    │   └── RejectedError       422            the database refused one document's values
    ├── UpstreamError           502 / exit 1   the language model server failed or is unreachable
    │   └── UpstreamTimeout     504            ... or did not answer in time
    └── Busy                    503            the ingestion queue is full

Each error carries its HTTP status and CLI exit code, so the edges (api/) turn any of them
into `{"error": {"code", "message"}}` (api/errors.py in routes, api/responses.py in
middleware) or a one-line message without knowing the subclass. The errors only the HTTP
API raises are here too, so that every code the API can answer is in this one tree.
Messages say what was wrong and what to do about it.
"""

from __future__ import annotations


class CitedError(Exception):
    status: int = 500
    exit_code: int = 1
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(CitedError):
    status = 400
    exit_code = 2
    code = "bad_configuration"


class InvalidRequest(ConfigError):
    """A request that cannot be answered as sent, such as a blank question. Its code is the
    one of every request refused for what it holds: with 400 when raised, 422 when the
    request schema refuses it (api/errors.py)."""

    code = "invalid_request"


class NotFoundError(CitedError):
    status = 404
    code = "not_found"


class HostNotAllowed(CitedError):
    status = 400
    code = "host_not_allowed"


class Unauthorized(CitedError):
    status = 401
    code = "unauthorized"


class Forbidden(CitedError):
    status = 403
    code = "forbidden"


class CrossSiteRequest(Forbidden):
    code = "cross_site_request"


class ModelNotFound(NotFoundError):
    code = "model_not_found"


class ConflictError(CitedError):
    status = 409
    code = "conflict"


class ModelMismatchError(ConflictError):
    code = "embedding_model_mismatch"


class WriterLockedError(ConflictError):
    code = "writer_locked"


class TooLarge(CitedError):
    status = 413
    code = "payload_too_large"


class TooManyFiles(TooLarge):
    code = "too_many_files"


class ParseError(CitedError):
    status = 422
    code = "unparseable_file"


class StoreError(CitedError):
    code = "store_error"


class RejectedError(StoreError):
    """The database refused a write for what it holds (a value it cannot store), not for
    its own state: the same write fails again, and other documents are unaffected."""

    status = 422
    code = "rejected_by_store"


class UpstreamError(CitedError):
    status = 502
    code = "language_model_unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "language_model_timeout"


class Busy(CitedError):
    status = 503
    code = "busy"
