"""Configuration from the environment (pydantic-settings). One object, read once at start-up."""

from __future__ import annotations

from pathlib import Path

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a Parley process; each maps to a `PARLEY_*` environment variable."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    home: Path = Field(default=Path(".parley"), description="State directory (embedded NATS, SQLite, admin token).")
    nats_url: str | None = Field(default=None, description="NATS server URL; unset: start the embedded nats-server.")
    nats_port: int | None = Field(default=None, description="Client port of the embedded nats-server; unset: a free port.")
    nats_user: str | None = Field(default=None, description="NATS user of the application (least privilege: cannot delete or purge the stream).")
    nats_password: SecretStr | None = Field(default=None, description="Password of PARLEY_NATS_USER.")
    nats_creds: Path | None = Field(default=None, description="nkeys/JWT credentials file of the application's NATS user (instead of user/password).")
    nats_admin_user: str | None = Field(default=None, description="Optional NATS admin user, used only at start-up to create the stream; unset: the application user does it.")
    nats_admin_password: SecretStr | None = Field(default=None, description="Password of PARLEY_NATS_ADMIN_USER.")
    nats_admin_creds: Path | None = Field(default=None, description="nkeys/JWT credentials file of the NATS admin (instead of user/password).")
    nats_tls_ca: Path | None = Field(default=None, description="CA file to verify the NATS server's certificate (enables TLS).")
    nats_tls_cert: Path | None = Field(default=None, description="Client certificate for NATS servers that verify clients (mutual TLS).")
    nats_tls_key: Path | None = Field(default=None, description="Key of PARLEY_NATS_TLS_CERT.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the read models; unset: SQLite in PARLEY_HOME.")
    stream: str = Field(default="PARLEY", description="JetStream stream name.")
    subject_prefix: str = Field(default="parley", description="First token of every event subject (<prefix>.ev.<type>.<id>).")
    stream_replicas: int = Field(default=1, description="Stream replicas: 1 on one machine, 3 in a cluster.")
    http_host: str = Field(default="127.0.0.1", description="API bind address.")
    http_port: int = Field(default=8080, description="API port.")
    max_body_bytes: int = Field(default=1_048_576, description="Largest accepted request body.")
    log_format: Literal["json", "console"] = Field(default="json", description="Log lines as JSON (default) or readable console text.")
    log_level: str = Field(default="info", description="Lowest log level written (debug, info, warning, error).")
    rate_limit_per_second: float = Field(default=20.0, ge=0, description="Sustained requests per second per API token (0: no limit). Per API process.")
    oidc_jwks_url: str | None = Field(default=None, description="Accept OIDC JWTs signed by the keys at this JWKS URL (optional).")
    oidc_issuer: str | None = Field(default=None, description="Required `iss` of OIDC tokens.")
    oidc_audience: str | None = Field(default=None, description="Required `aud` of OIDC tokens.")
    oidc_role_claim: str = Field(default="parley_role", description="Claim holding the Parley role.")
    oidc_party_claim: str = Field(default="parley_party", description="Claim holding the party code (party roles).")
    oidc_officer_claim: str = Field(default="parley_officer", description="Claim holding the officer id (party roles).")
    oidc_jwks_cache_seconds: int = Field(default=300, ge=0, description="How long the JWKS is cached (refetched early for an unknown key id).")
    rate_limit_burst: int = Field(default=100, ge=1, description="Requests a token may make at once before the rate limit applies.")
    projector_writer_process_from: int = Field(default=20_000, ge=0, description="A projector catch-up of at least this many events commits from a second process, so a rebuild uses two cores (adapters/sql/writer_process.py); 0: never.")
    token_cache_seconds: float = Field(default=5.0, ge=0, description="How long an API process may reuse a verified token without the database (0: never). Revocations reach every process at once over NATS; this bounds the rare case one cannot (adapters/token_cache.py).")

    @property
    def writer_process_from(self) -> int | None:
        """`Projector(writer_process_from=…)`: None when turned off."""
        return self.projector_writer_process_from or None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'parley.db').resolve()}"
