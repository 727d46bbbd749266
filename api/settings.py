"""All settings of cited, read once from the environment (prefix CITED_) and passed down.

Stages never see this object: `api.wiring` turns it into constructor arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from answer.types import AnswerMode
from index.document_encoder import DocumentEncoderKind, index_model_name
from index.embedder import DEFAULT_MODEL
from index.vectors import KindChoice
from ingest.pipeline import default_parse_workers
from retrieve.types import Mode

LogLevel = Literal["debug", "info", "warning", "error"]
# What a setting left unset means, where that is not a value of its own.
UNSET_MEANS = {
    "database_url": "<data dir>/cited.db",
    "database_read_url": "every read goes to CITED_DATABASE_URL",
    "files_dir": "<data dir>/files",
    "model_cache_dir": "the user's cache",
    "mmr_lambda": "off",
    "rerank_model": "off",
    "abstain_threshold": "the answer model's calibrated threshold",
    "llm_base_url": "no language model: extractive answers only",
    "llm_model": "no language model",
    "llm_api_key": "none sent",
    "support_judge_base_url": "CITED_LLM_BASE_URL",
    "support_judge_model": "CITED_LLM_MODEL",
    "api_keys": "no keys (loopback only)",
    "api_keys_file": "none",
    "log_level": "warning; info for serve and ingest",
}
# What a default is made of, where that is not plain.
DEFAULT_MEANS = {
    "data_dir": "./data of the working directory",
    "parse_workers": "from this machine's CPUs",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITED_", extra="ignore")

    data_dir: Path = Field(
        Path("data"),
        description="Where the SQLite store and vector index live; a relative path is taken "
        "from the working directory once, at start (so every message names it absolutely).",
    )
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/cited.db. "
        "PostgreSQL: postgresql+psycopg://user:password@host/db",
    )
    database_read_url: SecretStr | None = Field(
        None,
        description="A hot standby (streaming replica) of the PostgreSQL store: the "
        "per-question lexical search and the vector index's follow-up reads go there, "
        "writes and the rows cited stay on CITED_DATABASE_URL. Unset = everything there.",
    )
    embedding_model: str = Field(
        DEFAULT_MODEL, description="sentence-transformers name or local path."
    )
    device: Literal["cpu", "cuda", "mps", "auto"] = Field(
        "cpu", description="Where the embedding model runs."
    )
    chunk_tokens: int = Field(
        256, ge=8, le=8192, description="Chunk size in tokens (capped at the model's limit)."
    )
    chunk_overlap: int = Field(
        32, ge=0, description="Tokens shared by consecutive chunks of one element."
    )
    fast_queries: bool = Field(
        True,
        description="Embed questions with an ONNX export of the embedding model (CPU, ~3x "
        "faster) and read pairs with ONNX exports of the reading models; exported "
        "once into CITED_MODEL_CACHE_DIR.",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where ONNX exports of the models are cached; unset = the user's cache "
        "(~/.cache/cited/models, or $XDG_CACHE_HOME/cited/models), shared by every data dir "
        "of the machine and filled once by `cited prepare` (make install runs it).",
    )
    files_dir: Path | None = Field(
        None,
        description="Where uploaded originals are kept; unset = <data_dir>/files. Servers "
        "sharing one PostgreSQL store need one folder they all mount at this same path.",
    )
    batch_size: int = Field(32, ge=1, le=4096, description="Texts per embedding forward pass.")
    commit_chunks: int = Field(
        512,
        ge=1,
        le=100_000,
        description="Chunks embedded and committed together during ingestion.",
    )
    max_file_mb: float = Field(100.0, gt=0, description="Files larger than this are refused.")
    parse_workers: int = Field(
        default_factory=default_parse_workers,
        ge=1,
        le=64,
        description="Parser processes during ingestion.",
    )
    document_encoder: DocumentEncoderKind = Field(
        "onnx",
        description="How ingestion embeds chunks: torch (the model as loaded), onnx (its "
        "ONNX export: the same vectors, torch-free), int8 (the export with int8 feed-forward "
        "layers: faster; recorded as a model of its own, so switching needs `cited reindex "
        "--reembed`).",
    )
    ray_embedders: int = Field(
        0,
        ge=0,
        le=4096,
        description="Embedding actors for `cited ingest --ray`; 0 = one per GPU of the "
        "cluster, or one per two CPUs without GPUs.",
    )
    parse_timeout_s: float = Field(
        120.0,
        gt=0,
        le=86_400,
        description="Longest time one file may take to parse; past it the file fails.",
    )
    file_timeout_s: float = Field(
        300.0,
        gt=0,
        le=86_400,
        description="Longest time of one file's own work (parsing, chunking, embedding its "
        "chunks); past it the file fails and the batch goes on.",
    )
    max_chunks_per_file: int = Field(
        2000,
        ge=1,
        le=10_000_000,
        description="Most chunks one file may make (each is embedded: ~30 a second on two "
        "CPU cores); a file over it fails with this setting named. 2,000 chunks is about "
        "1,000 pages of prose.",
    )
    parse_memory_mb: int = Field(
        4096,
        ge=0,
        description="Address space of a parser process while it parses a file (a file needing "
        "more fails); 0 = no cap. A parser uses about 1,400 MB before any file.",
    )
    collection: str = Field(
        "default", min_length=1, max_length=200, description="Default collection."
    )
    # -- retrieval --
    search_mode: Mode = Field("hybrid", description="How `search` and `ask` find passages.")
    top_k: int = Field(5, ge=1, le=100, description="Passages retrieved for an answer.")
    candidates: int = Field(
        50, ge=1, le=1000, description="Candidates taken from each search before fusion."
    )
    rrf_k: float = Field(
        5.0, ge=0, description="Reciprocal rank fusion constant (bench/fusion.py chose 5)."
    )
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in fusion.")
    lexical_weight: float = Field(
        2.0, ge=0, description="Weight of the lexical ranking in fusion (bench/fusion.py)."
    )
    mmr_lambda: float | None = Field(
        None, ge=0, le=1, description="MMR diversity (1 = relevance only); unset = off."
    )
    rerank_model: str | None = Field(
        None, description="Cross-encoder name or local path for reranking; unset = off."
    )
    rerank_candidates: int = Field(20, ge=1, le=200, description="Passages reranked.")
    vector_index: KindChoice = Field(
        "auto",
        description="FAISS index kind; auto = flat up to CITED_HNSW_THRESHOLD vectors, HNSW "
        "up to CITED_IVF_THRESHOLD, IVF above.",
    )
    hnsw_threshold: int = Field(200_000, ge=1, description="Vectors above which auto uses HNSW.")
    hnsw_ef_search: int = Field(128, ge=1, le=4096, description="HNSW search breadth.")
    ivf_threshold: int = Field(
        500_000,
        ge=1,
        description="Vectors above which auto uses a compressed IVF index (8-bit codes: a "
        "quarter of HNSW's memory; candidates re-scored exactly from the stored vectors).",
    )
    ivf_nprobe: int = Field(
        96, ge=1, le=65536, description="IVF lists searched per question (recall vs speed)."
    )
    # -- answers --
    answer_mode: AnswerMode = Field("extractive", description="Default answer mode.")
    answer_sentences: int = Field(3, ge=1, le=20, description="Most sentences in an answer.")
    answer_model: str = Field(
        "bundled",
        description="The answer model: 'bundled' (shipped with cited) or the local folder of a "
        "sequence-classification model (docs/models.md).",
    )
    support_model: str = Field(
        "bundled",
        description="The support model: 'bundled' or the local folder of a "
        "sequence-classification model, e.g. an NLI cross-encoder (docs/models.md).",
    )
    abstain_threshold: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Extractive answers abstain when no sentence answers with at least this "
        "probability; unset = the answer model's calibrated threshold.",
    )
    support_threshold: float = Field(
        0.5, gt=0, le=1, description="Least P(supported) of a quote the support check accepts."
    )
    support_judge: Literal["off", "llm"] = Field(
        "off",
        description="`llm`: a language model decides the sentences whose P(supported) is in "
        "[CITED_SUPPORT_JUDGE_LOW, CITED_SUPPORT_JUDGE_HIGH); a judge that fails leaves the "
        "support model's verdict.",
    )
    support_judge_low: float = Field(0.2, ge=0, lt=1, description="Bottom of the judge's band.")
    support_judge_high: float = Field(0.8, gt=0, le=1, description="Top of the judge's band.")
    support_judge_base_url: str | None = Field(
        None, description="OpenAI-compatible server of the judge; unset = CITED_LLM_BASE_URL."
    )
    support_judge_model: str | None = Field(
        None, description="Model the judge's server runs; unset = CITED_LLM_MODEL."
    )
    support_judge_timeout: float = Field(
        10.0, gt=0, description="Seconds to wait for the judge before the support model decides."
    )
    min_relevance: float = Field(
        0.1, ge=-1, le=1, description="Abstain when no passage is at least this similar."
    )
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible server, e.g. http://localhost:11434/v1."
    )
    llm_model: str | None = Field(None, description="Model name the LLM server should run.")
    llm_api_key: SecretStr | None = Field(None, description="Bearer token for the LLM server.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the LLM server.")
    llm_retries: int = Field(2, ge=0, le=10, description="Retries on LLM server failures.")
    llm_max_tokens: int = Field(512, ge=16, le=32768, description="Longest reply requested.")
    llm_retry_unverified: bool = Field(
        True, description="Ask the model once more when nothing of its reply verifies."
    )
    # -- the HTTP server --
    api_keys: SecretStr | None = Field(
        None,
        description="API keys: `token[:scopes[:collections]]` entries separated by `;` "
        "(scopes ask, read, ingest, delete or *). Unset = no keys (loopback only).",
    )
    api_keys_file: Path | None = Field(
        None, description="JSON file of API keys (name, key or key_sha256, scopes, collections)."
    )
    insecure: bool = Field(
        False, description="Allow serving a non-loopback address without API keys."
    )
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed by CORS (`*` for any); empty = off."
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated host names this server answers for, besides "
        "localhost/127.0.0.1/::1 on a loopback bind (`*` = any); refuses DNS rebinding.",
    )
    upload_max_mb: float = Field(
        512.0, gt=0, description="Largest upload request (all its files together)."
    )
    upload_max_files: int = Field(100, ge=1, le=10_000, description="Most files in one upload.")
    max_body_kb: int = Field(
        1024, ge=1, description="Largest JSON request body (uploads have their own limit)."
    )
    host: str = Field("127.0.0.1", description="`cited serve` bind address.")
    port: int = Field(8000, ge=1, le=65535, description="`cited serve` port.")
    log_level: LogLevel | None = Field(
        None,
        description="Log lines (to stderr) at this level and above; unset = warning for the "
        "commands that print a result (ask, search, eval, docs, config, ...), info for "
        "`cited serve` and `cited ingest` (their logs are the operator's view).",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("embedding_model")
    @classmethod
    def _model_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a sentence-transformers model or a local path")
        return value.strip()

    @field_validator("parse_memory_mb")
    @classmethod
    def _memory_cap_fits(cls, value: int) -> int:
        if 0 < value < 256:
            raise ValueError("must be 0 (no cap) or at least 256: a parser needs that to start")
        return value

    @model_validator(mode="after")
    def _overlap_fits(self) -> Settings:
        if self.chunk_overlap > self.chunk_tokens // 2:
            raise ValueError(
                f"CITED_CHUNK_OVERLAP ({self.chunk_overlap}) must be at most half of "
                f"CITED_CHUNK_TOKENS ({self.chunk_tokens})"
            )
        return self

    @model_validator(mode="after")
    def _replica_needs_postgres(self) -> Settings:
        if self.database_read_url is not None and not self.shared_store:
            raise ValueError(
                "CITED_DATABASE_READ_URL (a read replica) needs a PostgreSQL store: set "
                "CITED_DATABASE_URL to the primary, or unset CITED_DATABASE_READ_URL"
            )
        return self

    @field_validator(
        "rerank_model", "llm_base_url", "llm_model", "database_read_url", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def database(self) -> str:
        """The effective database URL (secret: may hold a password)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'cited.db'}"

    @property
    def database_read(self) -> str | None:
        """The read replica's URL, if any (secret: may hold a password)."""
        if self.database_read_url is None:
            return None
        return self.database_read_url.get_secret_value()

    @property
    def vector_path(self) -> Path:
        return self.data_dir / "vectors.faiss"

    @property
    def uploads_dir(self) -> Path:
        """Originals of uploaded files, by collection (`GET /v1/documents/{id}/file`)."""
        return self.files_dir or self.data_dir / "files"

    @property
    def staging_dir(self) -> Path:
        """Where this server's uploads wait for their ingestion job (never shared)."""
        return self.data_dir / "staging"

    @property
    def shared_store(self) -> bool:
        """True when the store can be shared by servers on several machines (PostgreSQL)."""
        return self.database.startswith("postgresql")

    @property
    def cors(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    @property
    def index_model(self) -> str:
        """What the store records as the model of its vectors."""
        return index_model_name(self.embedding_model, self.document_encoder)

    @property
    def model_dir(self) -> Path:
        """Where ONNX exports of the models are cached."""
        if self.model_cache_dir is not None:
            return self.model_cache_dir
        try:
            cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        except RuntimeError:  # no home directory to find
            return self.data_dir / "models"
        return cache / "cited" / "models"

    @property
    def fast_path_dir(self) -> Path | None:
        """Where ONNX exports are cached, or None when the fast paths are off."""
        if not self.fast_queries:
            return None
        return self.model_dir

    def log_level_for(self, command: str | None) -> LogLevel:
        """The level in force for a `cited` command (CITED_LOG_LEVEL, else its default)."""
        if self.log_level is not None:
            return self.log_level
        return "info" if command in ("serve", "ingest") else "warning"

    @property
    def store_place(self) -> str:
        """Where the store is, for messages: the data folder when the store is the SQLite
        file in it (the default), else the database URL (password hidden)."""
        if self.database_url is None:
            return str(self.data_dir)
        return make_url(self.database).render_as_string(hide_password=True)

    @property
    def store_file(self) -> Path | None:
        """The SQLite file of the store, or None for a server database (or in memory)."""
        url = make_url(self.database)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database).absolute()

    def public(self, in_force: dict[str, Any] | None = None) -> dict[str, Any]:
        """Settings for display, secrets masked, with the values in force where a setting
        is unset but has one (`in_force`: those known only by the stages, by name)."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "database_url":
                value = make_url(self.database).render_as_string(hide_password=True)
            elif name == "database_read_url" and self.database_read is not None:
                value = make_url(self.database_read).render_as_string(hide_password=True)
            elif name == "model_cache_dir":
                value = str(self.model_dir)  # the effective folder, also when unset
            elif name == "files_dir":
                value = str(self.uploads_dir)
            elif name == "log_level":
                value = self.log_level_for(None)
            elif name in (in_force or {}) and value is None:
                value = (in_force or {})[name]
            elif isinstance(value, SecretStr):
                value = "**********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            shown[name] = value
        return shown

    def sources(self) -> dict[str, str]:
        """Where each setting's value comes from: "environment" (CITED_...), "default", or
        "unset: <what that means>"."""
        given = self.model_fields_set
        sources = {}
        for name in type(self).model_fields:
            if name in given:
                sources[name] = "environment"
            elif name in UNSET_MEANS:
                sources[name] = f"unset: {UNSET_MEANS[name]}"
            else:
                sources[name] = (
                    f"default: {DEFAULT_MEANS[name]}" if name in DEFAULT_MEANS else "default"
                )
        return sources
