"""The FastAPI app: the REST API under /v1, health checks and the start page.

Built by `create_app(settings)`; the stages (and their models) are built and warmed once at
start-up and shared by all requests. Routes are sync functions, so FastAPI runs them in
its thread pool and the event loop stays free while a question is embedded or answered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from api import errors
from api.deps import Services
from api.routes import ask, health, search
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
        description="Answers from your documents, every sentence backed by an exact quote.",
        lifespan=lifespan,
    )
    app.state.services = services
    errors.install(app)
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(ask.router)
    page = (files("web") / "index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    return app
