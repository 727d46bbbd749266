"""`/openapi.json` as this server behaves, so that generated clients work.

FastAPI describes the routes; three things only the running server knows are set here:
- Authentication: with API keys, every `/v1` route and `/metrics` requires a bearer token
  (401 without one); without keys, none does, and the schema declares no security at all.
- Errors: every error answer is `{"error": {"code", "message"}}` as JSON (api/errors.py),
  including 422 (not FastAPI's own validation shape) and on routes that answer text.
  Any route may answer 400: a Host header this server does not answer to (api/guard.py);
  any route with a body may answer 413: a body over CITED_MAX_BODY_KB (api/middleware.py).
- Answer modes: without a language model server, `mode` of `POST /v1/ask` is "extractive"
  only (a request for "generative" is refused with 400 naming the settings to set).
- Uploads: `POST /v1/documents` takes 1 to CITED_UPLOAD_MAX_FILES files, and answers with a
  job, linked to `GET /v1/jobs/{job_id}` (its documents exist once the job is done). An
  empty `collection` field means the default collection, as an absent one does.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

JSON = "application/json"
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
UPLOAD_BODY = "Body_upload_v1_documents_post"


def install(app: FastAPI, requires_keys: bool, generative: bool, max_files: int) -> None:
    """Make `app.openapi()` build (once) the schema described above."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            built = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = describe(built, requires_keys, generative, max_files)
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


def describe(
    schema: dict[str, Any], requires_keys: bool, generative: bool, max_files: int
) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    paths = schema.get("paths", {})
    for operations in paths.values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if not requires_keys:
                operation.pop("security", None)
                responses.pop("401", None)
            responses.setdefault("400", {"description": "Bad request (or a Host not served)."})
            if "requestBody" in operation:
                responses.setdefault("413", {"description": "The body is over the size limit."})
            for status, response in responses.items():
                if int(status) >= 400 and not _own_json(response):
                    response["content"] = {JSON: {"schema": ERROR_REF}}
    job = paths.get("/v1/jobs/{job_id}", {}).get("get", {}).get("operationId")
    upload = paths.get("/v1/documents", {}).get("post", {}).get("responses", {})
    for status in ("200", "202"):
        if job and status in upload:
            upload[status]["links"] = {
                "job": {"operationId": job, "parameters": {"job_id": "$response.body#/id"}}
            }
    if not requires_keys:
        components.pop("securitySchemes", None)
    upload_fields = schemas.get(UPLOAD_BODY, {}).get("properties", {})
    if "files" in upload_fields:
        upload_fields["files"].update(minItems=1, maxItems=max_files)
    if "collection" in upload_fields:
        upload_fields["collection"]["anyOf"].append({"type": "string", "maxLength": 0})
    if not generative:
        mode = schemas.get("AskRequest", {}).get("properties", {}).get("mode", {})
        for choice in mode.get("anyOf", []):
            if "enum" in choice:
                choice["enum"] = ["extractive"]
    return schema


def _own_json(response: dict[str, Any]) -> bool:
    """Whether a route declared its own JSON model for this response (as /readyz does for
    503); every other error answer is an ErrorResponse."""
    ref = response.get("content", {}).get(JSON, {}).get("schema", {}).get("$ref", "")
    return bool(ref) and not ref.endswith(("/HTTPValidationError", "/ErrorResponse"))
