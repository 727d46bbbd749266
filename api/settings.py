"""All settings of cited, read once from the environment (prefix CITED_) and passed down.

Stages never see this object: `api.wiring` turns it into constructor arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from index.embedder import DEFAULT_MODEL
from ingest.pipeline import default_parse_workers


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITED_", extra="ignore")

    data_dir: Path = Field(
        Path("data"), description="Where the SQLite store and vector index live."
    )
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/cited.db. "
        "PostgreSQL: postgresql+psycopg://user:password@host/db",
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
    collection: str = Field(
        "default", min_length=1, max_length=200, description="Default collection."
    )
    host: str = Field("127.0.0.1", description="`cited serve` bind address.")
    port: int = Field(8000, ge=1, le=65535, description="`cited serve` port.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("embedding_model")
    @classmethod
    def _model_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a sentence-transformers model or a local path")
        return value.strip()

    @model_validator(mode="after")
    def _overlap_fits(self) -> Settings:
        if self.chunk_overlap > self.chunk_tokens // 2:
            raise ValueError(
                f"CITED_CHUNK_OVERLAP ({self.chunk_overlap}) must be at most half of "
                f"CITED_CHUNK_TOKENS ({self.chunk_tokens})"
            )
        return self

    @property
    def database(self) -> str:
        """The effective database URL (secret: may hold a password)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'cited.db'}"

    @property
    def vector_path(self) -> Path:
        return self.data_dir / "vectors.faiss"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    def public(self) -> dict[str, Any]:
        """Effective settings for display, secrets masked."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "database_url":
                value = make_url(self.database).render_as_string(hide_password=True)
            elif isinstance(value, SecretStr):
                value = "**********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            shown[name] = value
        return shown
