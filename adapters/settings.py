"""Configuration from the environment (pydantic-settings). One object, read once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a Parley process; each maps to a `PARLEY_*` environment variable."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    home: Path = Field(default=Path(".parley"), description="State directory (embedded NATS, SQLite, admin token).")
    nats_url: str | None = Field(default=None, description="NATS server URL; unset: start the embedded nats-server.")
    nats_port: int | None = Field(default=None, description="Client port of the embedded nats-server; unset: a free port.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the read models; unset: SQLite in PARLEY_HOME.")
    stream: str = Field(default="PARLEY", description="JetStream stream name.")
    subject_prefix: str = Field(default="parley", description="First token of every event subject (<prefix>.ev.<type>.<id>).")
    stream_replicas: int = Field(default=1, description="Stream replicas: 1 on one machine, 3 in a cluster.")
    http_host: str = Field(default="127.0.0.1", description="API bind address.")
    http_port: int = Field(default=8080, description="API port.")
    max_body_bytes: int = Field(default=1_048_576, description="Largest accepted request body.")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'parley.db').resolve()}"
