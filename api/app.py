"""The FastAPI app: for now /healthz and the start page; the REST API comes with issue 4."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from api import wiring
from api.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    store = wiring.open_store(settings)
    app = FastAPI(
        title="cited",
        version="0.1.0",
        description="Answers from your documents, every sentence backed by an exact quote.",
    )
    page = (files("web") / "index.html").read_text(encoding="utf-8")

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        """Alive, with the number of documents and chunks in the store."""
        return {
            "status": "ok",
            "documents": store.count_documents(),
            "chunks": store.count_chunks(),
        }

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    return app
