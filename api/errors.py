"""One place that turns every failure into `{"error": {"code", "message"}}` with its status.
CitedError carries its own status and code; request validation is 422 naming the field;
anything unexpected is a 500 with a generic message (the traceback goes to the log only)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from api.schemas import error, internal_error
from index import CitedError
from index.errors import NotFoundError, TooLarge

log = logging.getLogger(__name__)


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
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in exc.errors()
        )
        return JSONResponse(error("invalid_request", problems), status_code=422)

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


def allowed_methods(request: Request) -> set[str]:
    """Every method the API schema declares at this request's path."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern, _, _ = compile_path(template)
        if pattern.match(request.url.path):
            methods |= {method.upper() for method in operations}
    return methods
