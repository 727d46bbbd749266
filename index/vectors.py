"""The vector index: FAISS, keyed by chunk id, derived from the SQL store.

    <data_dir>/vectors.faiss   IndexIDMap2 over IndexFlatIP (exact) or IndexHNSWFlat (approximate)
    <data_dir>/vectors.json    {"model", "dimension", "generation", "count", "kind", "hidden_ids"}

Both files are written atomically (temp file, fsync, rename). They may lag the SQL store
after a crash; `KnowledgeBase.vectors()` repairs that by comparing id sets (chunk ids are
never reused, so equal id sets mean equal contents).

HNSW cannot remove vectors, so a removed id is *hidden*: kept in the graph, listed in the
header, excluded from every search by a selector; the knowledge base rebuilds the graph
once too many are hidden. Deliberately not done here: deciding what should be in the index
(the store says), and choosing flat or HNSW (the knowledge base does, by size).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import faiss
import numpy as np

log = logging.getLogger(__name__)


Kind = Literal["flat", "hnsw"]
KINDS: tuple[Kind, ...] = get_args(Kind)
# What a setting may ask for: a kind, or "auto" (flat, HNSW above a number of vectors).
KindChoice = Literal["auto", "flat", "hnsw"]


@dataclass(frozen=True)
class VectorHeader:
    model: str
    dimension: int
    generation: int
    count: int
    kind: Kind = "flat"


@dataclass(frozen=True)
class HnswParams:
    m: int = 32
    ef_construction: int = 200
    ef_search: int = 128


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class VectorIndex:
    """Inner-product search over normalized vectors (= cosine similarity), keyed by chunk id."""

    def __init__(self, dimension: int, kind: Kind = "flat", hnsw: HnswParams | None = None) -> None:
        if dimension <= 0:
            raise ValueError(f"vector dimension must be positive, got {dimension}")
        if kind not in KINDS:
            raise ValueError(f"vector index kind must be 'flat' or 'hnsw', got {kind!r}")
        self.dimension = dimension
        self.kind: Kind = kind
        self.hnsw = hnsw or HnswParams()
        self._hidden = np.zeros(0, dtype=np.int64)  # sorted ids removed from an HNSW graph
        inner: Any  # faiss's stubs do not know IndexHNSWFlat's attributes
        if kind == "flat":
            inner = faiss.IndexFlatIP(dimension)
        else:
            inner = faiss.IndexHNSWFlat(dimension, self.hnsw.m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = self.hnsw.ef_construction
            inner.hnsw.efSearch = self.hnsw.ef_search
        self._index = faiss.IndexIDMap2(inner)

    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._hidden)

    @property
    def hidden(self) -> int:
        return len(self._hidden)

    def ids(self) -> np.ndarray:
        """Ids searchable now, ascending."""
        stored = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        return np.setdiff1d(stored, self._hidden)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {(len(ids), self.dimension)} vectors, got {vectors.shape}")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.kind == "hnsw":
            present = np.intersect1d(faiss.vector_to_array(self._index.id_map), ids)
            before = len(self._hidden)
            self._hidden = np.union1d(self._hidden, present)
            return len(self._hidden) - before
        # faiss's SWIG stubs know only the IDSelector overload; its wrapper also takes an array.
        return int(self._index.remove_ids(ids))  # type: ignore[arg-type]

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k), best first; missing neighbours have id -1.
        `allowed`: ascending ids to search among (the others are never returned)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(k, max(len(self), 1)))
        selector: faiss.IDSelector | None = None
        if allowed is not None:
            if len(self._hidden):
                allowed = np.setdiff1d(allowed, self._hidden)
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        elif len(self._hidden):
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(self._hidden))
        params: Any = None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.hnsw.ef_search, k))  # type: ignore[attr-defined]
            if selector is not None:
                params.sel = selector
        elif selector is not None:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        # Keep the selector alive for the duration of the search (params holds a raw pointer).
        scores, ids = self._index.search(queries, k, params=params)
        del selector
        return scores, ids

    def reconstruct(self, chunk_id: int) -> np.ndarray:
        return np.asarray(self._index.reconstruct(int(chunk_id)))

    def save(self, path: Path, header: VectorHeader) -> None:
        _atomic_write(path, faiss.serialize_index(self._index).tobytes())
        _atomic_write(
            header_path(path),
            json.dumps({**header.__dict__, "hidden_ids": self._hidden.tolist()}).encode(),
        )

    @classmethod
    def load(cls, path: Path) -> tuple[VectorIndex, VectorHeader] | None:
        """The saved index and its header, or None when either is missing or unreadable."""
        try:
            raw_header = json.loads(header_path(path).read_text())
            hidden = np.array(sorted(raw_header.pop("hidden_ids", [])), dtype=np.int64)
            header = VectorHeader(**raw_header)
            raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
            index = faiss.deserialize_index(raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            log.warning("vector index unreadable, will rebuild path=%s error=%s", path, exc)
            return None
        if index.d != header.dimension or index.ntotal != header.count + len(hidden):
            log.warning("vector index does not match its header, will rebuild path=%s", path)
            return None
        if not isinstance(index, faiss.IndexIDMap2):
            log.warning("vector index has an unexpected type, will rebuild path=%s", path)
            return None
        loaded = cls(header.dimension, header.kind)
        loaded._index = index
        loaded._hidden = hidden
        if header.kind == "hnsw":
            inner: Any = faiss.downcast_index(index.index)
            loaded.hnsw = HnswParams(
                m=loaded.hnsw.m,
                ef_construction=int(inner.hnsw.efConstruction),
                ef_search=int(inner.hnsw.efSearch),
            )
        return loaded, header


def header_path(path: Path) -> Path:
    return path.with_suffix(".json")
