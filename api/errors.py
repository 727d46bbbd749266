"""One place that turns every failure into `{"error": {"code", "message"}}` with its status.
CitedError carries its own status and code; request validation is 422 naming the field, or,
when the body could not be read as a JSON object at all, saying what to send (the route's
example body, with its Content-Type); anything unexpected is a 500 with a generic message (the traceback goes to the log only)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from api.schemas import error, internal_error
from index import CitedError
from index.errors import InvalidRequest, NotFoundError, TooLarge

log = logging.getLogger(__name__)

JSON = "application/json"


class Carried(HTTPException):
    """A CitedError raised where FastAPI would turn it into a 400 (while it reads a request
    body it lets HTTPException through, and nothing else); answered as the error it carries."""

    def __init__(self, error: CitedError) -> None:
        super().__init__(error.status, error.message)
        self.error = error


def install(app: FastAPI) -> None:
    @app.exception_handler(CitedError)
    async def cited(_: Request, exc: CitedError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(error(exc.code, exc.message), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        message = await unreadable_body(problems, request) or "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in problems
        )
        return JSONResponse(error(InvalidRequest.code, message), status_code=422)

    @app.exception_handler(HTTPException)
    async def http(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc, Carried):
            return await cited(request, exc.error)
        code = {
            400: "bad_request",
            404: NotFoundError.code,
            405: "method_not_allowed",
            413: TooLarge.code,
        }.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette's Allow names one route's methods, not the path's
            headers["Allow"] = ", ".join(sorted(allowed_methods(request))) or headers.get(
                "Allow", ""
            )
        return JSONResponse(
            error(code, str(exc.detail)), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed path=%s", request.url.path)
        return JSONResponse(internal_error(), status_code=500)


async def unreadable_body(problems: Sequence[Any], request: Request) -> str | None:
    """What to send instead, when the body could not be read as a JSON object at all (not
    JSON, not sent as JSON, missing, or not an object); None when a field is the problem."""
    if len(problems) != 1 or problems[0]["loc"][:1] != ("body",):
        return None
    problem = problems[0]
    send = f"send a JSON object such as {body_example(request)} with Content-Type: {JSON}"
    if problem["type"] == "json_invalid":
        body = await request.body()  # read whole before it was parsed: kept by the request
        before = body.decode("utf-8", "replace")[: problem["loc"][1]]  # a character offset
        line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        why = problem.get("ctx", {}).get("error", "JSON decode error")
        return f"the body is not valid JSON (line {line}, column {column}: {why}): {send}"
    if len(problem["loc"]) != 1:
        return None
    declared = request.headers.get("content-type", "").split(";")[0].strip()
    if problem["type"] == "missing":
        return f"the request has no body: {send}"
    if declared.lower() != JSON:
        shown = f"Content-Type: {declared}" if declared else "no Content-Type"
        return f"the body was not read as JSON ({shown}): {send}"
    return f"the body is JSON but not an object: {send}"


def body_example(request: Request) -> str:
    """The example body the API schema gives for this request's route, as JSON."""
    schema = request.app.openapi()
    template = getattr(request.scope.get("route"), "path", "")
    operation = schema["paths"].get(template, {}).get(request.method.lower(), {})
    body = operation.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema", {})
    name = body.get("$ref", "").rsplit("/", 1)[-1]
    examples = schema.get("components", {}).get("schemas", {}).get(name, {}).get("examples")
    return json.dumps(examples[0]) if examples else "{...}"


def allowed_methods(request: Request) -> set[str]:
    """Every method the API schema declares at this request's path."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern, _, _ = compile_path(template)
        if pattern.match(request.url.path):
            methods |= {method.upper() for method in operations}
    return methods
