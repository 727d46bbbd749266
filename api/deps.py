"""The stages the routes use, built once at start-up (models loaded then), and the
`Annotated` dependency that hands them to a route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from answer import QuestionAnswerer
from api import wiring
from api.settings import Settings
from index import KnowledgeBase, SentenceTransformerEmbedder, Store
from retrieve import Retriever


@dataclass
class Services:
    settings: Settings
    store: Store
    kb: KnowledgeBase
    embedder: SentenceTransformerEmbedder
    retriever: Retriever
    answers: QuestionAnswerer

    @classmethod
    def build(cls, settings: Settings) -> Services:
        store = wiring.open_store(settings)
        kb = wiring.knowledge_base(settings, store)
        embedder = wiring.embedder(settings)
        retriever = wiring.retriever(settings, kb, embedder)
        return cls(
            settings, store, kb, embedder, retriever, wiring.question_answerer(settings, retriever)
        )

    def warm_up(self) -> None:
        """Load the models and the vector index now, not on the first request."""
        self.embedder.embed_query("warm up")
        self.kb.vectors()

    def close(self) -> None:
        self.answers.close()
        self.store.close()


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
