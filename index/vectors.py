"""The vector index: FAISS, keyed by chunk id, derived from the SQL store.

    <data_dir>/vectors.faiss   IndexIDMap2 over IndexFlatIP (exact) or IndexHNSWFlat
                               (approximate), or an IndexIVFScalarQuantizer (approximate,
                               8-bit codes: a quarter of the memory, for millions of chunks)
    <data_dir>/vectors.json    {"model", "dimension", "generation", "count", "kind",
                                "trained_on", "hidden_ids"}

Both files are written atomically (temp file, fsync, rename). They may lag the SQL store
after a crash; `KnowledgeBase.vectors()` repairs that by comparing id sets (chunk ids are
never reused, so equal id sets mean equal contents). A file that cannot be read is rebuilt
from the store; a folder where a file belongs is moved aside first (renamed, never deleted:
what a person put in it is theirs).

HNSW cannot remove vectors, so a removed id is *hidden*: kept in the graph, listed in the
header, excluded from every search by a selector; the knowledge base rebuilds the graph
once too many are hidden. IVF removes natively; it must be trained (k-means centroids, and
the 8-bit quantizer's ranges) on a sample of vectors before any is added, and records how
many vectors it was trained for (`trained_on`) so the knowledge base can retrain it when
the corpus has grown a lot. Its vectors are compressed: `exact` is False, and exact scores
come from the stored float vectors (the knowledge base re-scores the best candidates).
Deliberately not done here: deciding what should be in the index (the store says), and
choosing the kind (the knowledge base does, by size).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import faiss
import numpy as np

from index.errors import StoreError

log = logging.getLogger(__name__)
_FAISS: Any = faiss  # the SWIG stubs lack much of what the module has


Kind = Literal["flat", "hnsw", "ivf"]
KINDS: tuple[Kind, ...] = get_args(Kind)
# What a setting may ask for: a kind, or "auto" (flat; HNSW, then IVF, above their sizes).
KindChoice = Literal["auto", "flat", "hnsw", "ivf"]


@dataclass(frozen=True)
class VectorHeader:
    model: str
    dimension: int
    generation: int
    count: int
    kind: Kind = "flat"
    trained_on: int = 0  # IVF: the number of vectors its lists were sized and trained for


@dataclass(frozen=True)
class HnswParams:
    m: int = 32
    ef_construction: int = 200
    ef_search: int = 128


@dataclass(frozen=True)
class IvfParams:
    nprobe: int = 96  # lists searched per query (bench/vectors.py: p99 1.1 ms at 3M)
    nlist: int = 0  # 0: chosen from the number of vectors (ivf_lists)


TRAIN_PER_LIST = 39  # FAISS's advice: at least 39 training vectors per list
MAX_TRAIN = 150_000


def ivf_lists(count: int) -> int:
    """Inverted lists for `count` vectors: about 4 sqrt(n), a power of two, 64 to 65536."""
    target = 4 * max(count, 1) ** 0.5
    return int(min(65536, max(64, 2 ** round(np.log2(target)))))


def train_size(count: int, nlist: int) -> int:
    return int(min(count, max(TRAIN_PER_LIST * nlist, 10_000), MAX_TRAIN))


def _move_folder_aside(path: Path) -> Path:
    """Rename the folder at `path` to a name that says what it was (`<name>.folder-moved-
    aside-<time>`), so a file can be written there; StoreError naming the path and the fix
    when it cannot be renamed."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.folder-moved-aside-{stamp}")
    try:
        n = 1
        while aside.exists() or aside.is_symlink():  # never onto another (an empty one would go)
            aside, n = path.with_name(f"{path.name}.folder-moved-aside-{stamp}-{n}"), n + 1
        path.rename(aside)
    except OSError as exc:
        raise StoreError(
            f"{path} is a folder where the vector index file belongs, and it could not be "
            f"moved aside ({exc.strerror}); move it out of the way (mv {path} {path}.old) "
            "and run again: the index is rebuilt from the store"
        ) from exc
    log.warning(
        "vector index path is a folder, not a file: moved it aside, the rebuilt index is "
        "written in its place path=%s moved_to=%s",
        path,
        aside,
    )
    return aside


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():  # os.replace cannot put a file there
        _move_folder_aside(path)
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

    def __init__(
        self,
        dimension: int,
        kind: Kind = "flat",
        hnsw: HnswParams | None = None,
        ivf: IvfParams | None = None,
        expected: int = 0,
        index: Any = None,
    ) -> None:
        """`expected`: for IVF, the number of vectors to size its lists for (it must then
        be trained, `train`, before vectors are added). `index`: a FAISS index of this
        kind to wrap (one read back by `load`) instead of a new, empty one."""
        if dimension <= 0:
            raise ValueError(f"vector dimension must be positive, got {dimension}")
        if kind not in KINDS:
            raise ValueError(f"vector index kind must be flat, hnsw or ivf, got {kind!r}")
        self.dimension = dimension
        self.kind: Kind = kind
        self.hnsw = hnsw or HnswParams()
        self.ivf = ivf or IvfParams()
        self.trained_on = 0
        self._hidden = np.zeros(0, dtype=np.int64)  # sorted ids removed from an HNSW graph
        # faiss's stubs do not know most index attributes
        self._index: Any = index if index is not None else self._new_index(expected)

    def _new_index(self, expected: int) -> Any:
        if self.kind == "ivf":
            quantizer: Any = faiss.IndexFlatIP(self.dimension)
            index: Any = faiss.IndexIVFScalarQuantizer(
                quantizer,
                self.dimension,
                self.ivf.nlist or ivf_lists(expected),
                faiss.ScalarQuantizer.QT_8bit,
                faiss.METRIC_INNER_PRODUCT,
            )
            index.own_fields = True
            quantizer.this.disown()  # the IVF index owns and frees its quantizer
            index.nprobe = self.ivf.nprobe
            return index
        inner: Any
        if self.kind == "flat":
            inner = faiss.IndexFlatIP(self.dimension)
        else:
            inner = faiss.IndexHNSWFlat(self.dimension, self.hnsw.m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = self.hnsw.ef_construction
            inner.hnsw.efSearch = self.hnsw.ef_search
        return faiss.IndexIDMap2(inner)

    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._hidden)

    @property
    def hidden(self) -> int:
        return len(self._hidden)

    @property
    def exact(self) -> bool:
        """True when the index holds the float vectors themselves (flat, HNSW)."""
        return self.kind != "ivf"

    @property
    def trained(self) -> bool:
        return bool(self._index.is_trained)

    @property
    def nlist(self) -> int:
        return int(self._index.nlist) if self.kind == "ivf" else 0

    def train(self, sample: np.ndarray, expected: int) -> None:
        """IVF: learn the lists' centroids and the 8-bit codes' ranges from `sample` (a
        random sample of the vectors), for an index of about `expected` vectors."""
        if self.kind != "ivf":
            return
        sample = np.ascontiguousarray(sample, dtype=np.float32)
        if len(sample) < self.nlist:
            raise ValueError(f"{len(sample)} training vectors for {self.nlist} lists")
        self._index.train(sample)
        self._index.set_direct_map_type(_FAISS.DirectMap.Hashtable)  # reconstruct, remove
        self.trained_on = int(expected)

    def memory_bytes(self) -> int:
        """About how much memory the index takes (its vectors or codes, ids, graph or
        lists, centroids)."""
        n, d = int(self._index.ntotal), self.dimension
        if self.kind == "ivf":
            return n * (int(self._index.code_size) + 8 + 16) + self.nlist * d * 4
        ids = n * (8 + 16)  # IndexIDMap2: the id array and its reverse map
        if self.kind == "hnsw":
            return n * (d * 4 + self.hnsw.m * 2 * 4 * 2) + ids
        return n * d * 4 + ids

    def describe(self) -> dict[str, Any]:
        """The kind, its parameters and its memory, for `cited config` and /readyz."""
        out: dict[str, Any] = {"kind": self.kind, "vectors": len(self)}
        if self.kind == "hnsw":
            out.update(m=self.hnsw.m, ef_search=self.hnsw.ef_search)
        if self.kind == "ivf":
            out.update(
                codes="sq8", lists=self.nlist, nprobe=self.ivf.nprobe, trained_on=self.trained_on
            )
        out["memory_mb"] = round(self.memory_bytes() / 2**20, 3)
        return out

    def ids(self) -> np.ndarray:
        """Ids searchable now, ascending."""
        if self.kind == "ivf":
            lists = self._index.invlists
            parts = [
                faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                for i in range(self.nlist)
                if lists.list_size(i)
            ]
            return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        stored = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        return np.setdiff1d(stored, self._hidden)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {(len(ids), self.dimension)} vectors, got {vectors.shape}")
        if not self.trained:
            raise ValueError("an IVF index must be trained before vectors are added")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.kind == "ivf":
            # the direct map's hashtable removes only through an IDSelectorArray
            chosen = faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids))
            return int(self._index.remove_ids(chosen))
        if self.kind == "hnsw":
            present = np.intersect1d(faiss.vector_to_array(self._index.id_map), ids)
            before = len(self._hidden)
            self._hidden = np.union1d(self._hidden, present)
            return len(self._hidden) - before
        # faiss's SWIG stubs know only the IDSelector overload; its wrapper also takes an array.
        return int(self._index.remove_ids(ids))

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k), best first; missing neighbours have id -1.
        `allowed`: ascending ids to search among (the others are never returned); IVF
        searches as many more lists as the scope is narrow, up to all of them."""
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
        if self.kind == "ivf":
            nprobe = self.ivf.nprobe
            if allowed is not None:  # a narrow scope has few vectors in the nearest lists
                share = len(allowed) / max(int(self._index.ntotal), 1)
                nprobe = int(min(self.nlist, np.ceil(nprobe / max(share, 1e-9))))
            params = _FAISS.SearchParametersIVF(nprobe=nprobe)
            if selector is not None:
                params.sel = selector
        elif self.kind == "hnsw":
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
        """The vector of `chunk_id` (decoded from its 8-bit code for IVF: not `exact`)."""
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
            index: Any = faiss.deserialize_index(raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            log.warning("vector index unreadable, will rebuild path=%s error=%s", path, exc)
            return None
        if index.d != header.dimension or index.ntotal != header.count + len(hidden):
            log.warning("vector index does not match its header, will rebuild path=%s", path)
            return None
        expected_type = faiss.IndexIVFScalarQuantizer if header.kind == "ivf" else faiss.IndexIDMap2
        if not isinstance(index, expected_type):
            log.warning("vector index has an unexpected type, will rebuild path=%s", path)
            return None
        loaded = cls(header.dimension, header.kind, index=index)
        loaded._hidden = hidden
        loaded.trained_on = header.trained_on
        if header.kind == "ivf":
            loaded.ivf = IvfParams(nprobe=int(loaded._index.nprobe), nlist=loaded.nlist)
        if header.kind == "hnsw":
            inner: Any = faiss.downcast_index(loaded._index.index)
            loaded.hnsw = HnswParams(
                m=loaded.hnsw.m,
                ef_construction=int(inner.hnsw.efConstruction),
                ef_search=int(inner.hnsw.efSearch),
            )
        return loaded, header


def header_path(path: Path) -> Path:
    return path.with_suffix(".json")
