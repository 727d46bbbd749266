"""The vector index: FAISS, keyed by chunk id, derived from the SQL store.

    <data_dir>/vectors.faiss        IndexIDMap2(IndexFlatIP(dim)) over normalized embeddings
    <data_dir>/vectors.json         {"model", "dimension", "generation", "count"} it was saved at

Both files are written atomically (temp file, fsync, rename). They may lag the SQL store
after a crash; `KnowledgeBase.open()` repairs that by comparing id sets (chunk ids are never
reused, so equal id sets mean equal contents). Deliberately not done here: deciding what
should be in the index (the store says) and approximate indexes (a later issue).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VectorHeader:
    model: str
    dimension: int
    generation: int
    count: int


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


class FlatVectorIndex:
    """Exact inner-product search over normalized vectors (= cosine similarity)."""

    def __init__(self, dimension: int) -> None:
        if dimension <= 0:
            raise ValueError(f"vector dimension must be positive, got {dimension}")
        self.dimension = dimension
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

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
        # faiss's SWIG stubs know only the IDSelector overload; its wrapper also takes an array.
        return int(self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))  # type: ignore[arg-type]

    def search(
        self, queries: np.ndarray, k: int, params: faiss.SearchParameters | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k); missing neighbours have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(k, len(self)))
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids

    def reconstruct(self, chunk_id: int) -> np.ndarray:
        return np.asarray(self._index.reconstruct(int(chunk_id)))

    def save(self, path: Path, header: VectorHeader) -> None:
        _atomic_write(path, faiss.serialize_index(self._index).tobytes())
        _atomic_write(header_path(path), json.dumps(header.__dict__).encode())

    @classmethod
    def load(cls, path: Path) -> tuple[FlatVectorIndex, VectorHeader] | None:
        """The saved index and its header, or None when either is missing or unreadable."""
        try:
            header = VectorHeader(**json.loads(header_path(path).read_text()))
            raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
            index = faiss.deserialize_index(raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            log.warning("vector index unreadable, will rebuild path=%s error=%s", path, exc)
            return None
        if index.d != header.dimension or index.ntotal != header.count:
            log.warning("vector index does not match its header, will rebuild path=%s", path)
            return None
        if not isinstance(index, faiss.IndexIDMap2):
            log.warning("vector index has an unexpected type, will rebuild path=%s", path)
            return None
        loaded = cls(header.dimension)
        loaded._index = index
        return loaded, header


def header_path(path: Path) -> Path:
    return path.with_suffix(".json")
