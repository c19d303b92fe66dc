"""Audit settings (PARLEY_AUDIT_*, PARLEY_KEYS_DIR), apart from `adapters.settings` so the integrity
adapters can be configured without touching the core service's settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.settings import Settings


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    audit_origin: str | None = Field(default=None, description="Checkpoint origin and name of the system key; unset: parley.local/<stream>.")
    checkpoint_every_events: int = Field(default=1000, ge=1, description="The notary signs a checkpoint after this many new events …")
    checkpoint_every_seconds: float = Field(default=10.0, gt=0, description="… or this many seconds after the first uncertified event.")
    keys_dir: Path | None = Field(default=None, description="Private signing keys (0700 directory); unset: <PARLEY_HOME>/keys.")

    def origin(self, settings: Settings) -> str:
        return self.audit_origin or f"parley.local/{settings.stream}"

    def keys_path(self, settings: Settings) -> Path:
        return self.keys_dir or settings.home / "keys"
