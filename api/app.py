"""The FastAPI app: the REST API under /v1, health checks, metrics and the chat page.

Built by `create_app(settings)`; the stages (and their models) are built and warmed once at
start-up and shared by all requests. Routes are sync functions, so FastAPI runs them in
its thread pool and the event loop stays free while a question is embedded or answered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import errors, openapi
from api.deps import Services
from api.guard import RequestGuard, allowed_hosts
from api.middleware import BodyLimit, RequestMetrics
from api.routes import ask, collections, documents, health, jobs, me, openai, page, search
from api.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    services = Services.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.warm_up()
        yield
        services.close()

    app = FastAPI(
        title="cited",
        version="0.1.0",
        description="Answers from your documents, every sentence backed by an exact quote. "
        "When the server has API keys, send `Authorization: Bearer <key>`.",
        lifespan=lifespan,
        docs_url=None,  # served by api/routes/page.py from vendored files, not a CDN
        redoc_url=None,
    )
    app.state.services = services
    errors.install(app)
    for router in (health, search, ask, documents, jobs, collections, me, openai):
        app.include_router(router.router)
    openapi.install(
        app,
        requires_keys=bool(services.keys.keys),
        generative=services.answers.llm is not None,
        max_files=settings.upload_max_files,
    )

    upload_limit = int(settings.upload_max_mb * 2**20)
    json_limit = settings.max_body_kb * 2**10

    def limit_for(method: str, path: str) -> int:
        return upload_limit if method == "POST" and path == "/v1/documents" else json_limit

    app.add_middleware(BodyLimit, limit_for=limit_for)
    if settings.cors:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Location"],
        )
    app.add_middleware(
        RequestGuard,
        hosts=allowed_hosts(settings.host, settings.allowed_hosts.split(",")),
        check_origin=not services.keys.keys,
        trusted_origins=settings.cors,
    )
    app.add_middleware(RequestMetrics, metrics=services.metrics)
    page.install(app)
    return app
