"""Benchmark corpora from ../shared/data, ingested once with the real pipeline and reused.

Each dataset's passages are written as `<corpus id>.txt` files (SciFact: title, blank line,
abstract, as BEIR evaluates it) and ingested into bench/.cache/<dataset>/ with the default
settings. A later run re-ingests nothing (the files' hashes are unchanged), so building is
paid once. Chunks map back to corpus ids through their document's file name.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / "bench" / ".cache"
sys.path.insert(0, str(ROOT))

from ingest import offline  # noqa: E402

offline.set_environment()
os.environ.pop("CITED_DATABASE_URL", None)

from api import wiring  # noqa: E402
from api.settings import Settings  # noqa: E402
from index import NewChunk, NewDocument  # noqa: E402
from ingest import LogProgress  # noqa: E402


def synthetic_document(
    pieces: list[str], collection: str, source: str, key: str, separator: str = "\n"
) -> NewDocument:
    """A synthetic document of one chunk per piece (a word, a paragraph), the pieces joined
    by `separator` (the vector, catch-up and long-document benches write these straight to
    a store); `key` is its title and hash."""
    chunks, at = [], 0
    for piece in pieces:
        chunks.append(NewChunk(piece, at, at + len(piece), n_tokens=len(piece.split())))
        at += len(piece) + len(separator)
    text = separator.join(pieces)
    return NewDocument(
        collection=collection,
        source=source,
        title=key,
        file_type="txt",
        content_hash=key,
        size_bytes=len(text),
        text=text,
        chunks=tuple(chunks),
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text().splitlines()[1:]:
        query, doc, score = line.split("\t")
        qrels.setdefault(query, {})[doc] = int(score)
    return qrels


@dataclass
class Corpus:
    name: str
    settings: Settings
    queries: list[dict[str, Any]]

    def corpus_id(self, source: str) -> str:
        return Path(source).stem


def database_for(url: str, name: str) -> str:
    """The PostgreSQL database of one dataset: `url`'s database name with the dataset's
    name appended (cited_bench -> cited_bench_squad_v1_1), so datasets never share a store.
    It must exist (createdb -O <role> cited_bench_squad_v1_1)."""
    base, _, database = url.rpartition("/")
    return f"{base}/{database}_{re.sub(r'[^a-z0-9]+', '_', name.lower())}"


def prepare(name: str, database_url: str | None = None, **overrides: Any) -> Corpus:
    """The dataset's index (built on first use) and its queries; in SQLite under
    bench/.cache/<dataset>/, or in PostgreSQL (`database_url`, see database_for) with its
    vector index under bench/.cache/<dataset>-postgresql/. Both ingest the same files."""
    folder = DATA / name
    data_dir = CACHE / name
    files = data_dir / "files"
    files.mkdir(parents=True, exist_ok=True)
    for passage in read_jsonl(folder / "corpus.jsonl"):
        text = passage["text"]
        if name == "scifact_beir" and passage.get("title"):
            text = passage["title"] + "\n\n" + text
        path = files / f"{passage['_id']}.txt"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    if database_url is not None:
        overrides["database_url"] = database_for(database_url, name)
        data_dir = CACHE / f"{name}-postgresql"
    settings = Settings(data_dir=data_dir, collection=name, **overrides)
    store = wiring.open_store(settings)
    try:
        kb = wiring.knowledge_base(settings, store)
        model = wiring.embedder(settings)
        report = wiring.ingestor(settings, kb, model, LogProgress()).run([files], name)
        if report.failed:
            raise SystemExit(f"{name}: {len(report.failed)} passages failed to ingest")
        kb.flush()
    finally:
        store.close()
    return Corpus(name, settings, read_jsonl(folder / "queries.jsonl"))
