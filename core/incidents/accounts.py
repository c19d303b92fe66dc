"""What one party says happened: the fields of an incident account, and their own validity.

The fields follow what the regimes and datasets actually record (see reference-domain §2):
when (with a precision), where (lat/lon with an uncertainty radius, or a place name), who
initiated, units, closest point of approach, severity/hostility level 1–5, casualties (a number
or unknown), narrative, sources and attachments by SHA-256.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

UNKNOWN = "unknown"

ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class Kind(StrEnum):
    UNSAFE_ENCOUNTER_SEA = "unsafe_encounter_sea"
    UNSAFE_ENCOUNTER_AIR = "unsafe_encounter_air"
    BORDER_INCIDENT = "border_incident"
    CEASEFIRE_VIOLATION = "ceasefire_violation"
    AIRSPACE_VIOLATION = "airspace_violation"
    OTHER = "other"


class TimePrecision(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


class Position(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float = Field(ge=-90, le=90, description="Latitude, WGS 84 degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS 84 degrees.")
    uncertainty_m: float = Field(default=0, ge=0, le=1_000_000, description="Radius in metres.")


class Attachment(BaseModel):
    """A file referenced by its digest; the bytes live outside the log, the digest binds them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    media_type: str = Field(min_length=3, max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")
    name: str | None = Field(default=None, max_length=200)


#: Field groups a reconciliation or dispute may name.
COMPARABLE_FIELDS = frozenset(
    {"kind", "time", "position", "initiator", "units", "cpa", "severity", "casualties", "narrative"}
)


class Account(BaseModel):
    """One party's account of an incident. Amendments replace it as a new version, never in place."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    started_at: AwareDatetime
    ended_at: AwareDatetime
    time_precision: TimePrecision = TimePrecision.MINUTE
    position: Position | None = None
    place: str | None = Field(default=None, min_length=1, max_length=200)
    initiator: str = Field(
        default=UNKNOWN, max_length=16, description="Party code of the side that initiated, or 'unknown'."
    )
    units: list[ShortText] = Field(default_factory=list, max_length=50)
    cpa_m: float | None = Field(default=None, ge=0, le=10_000_000, description="Closest point of approach, metres.")
    severity: int = Field(ge=1, le=5, description="Severity / hostility level, 1 (low) to 5.")
    casualties: int | None = Field(default=None, ge=0, le=1_000_000, description="Number, or null when unknown.")
    narrative: str = Field(default="", max_length=20_000)
    sources: list[ShortText] = Field(default_factory=list, max_length=50)
    attachments: list[Attachment] = Field(default_factory=list, max_length=50)

    @field_validator("started_at", "ended_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def problems(self, *, parties: tuple[str, ...], now: datetime, skew_s: int = 300) -> list[str]:
        """Cross-field problems, in words; empty when the account is coherent."""
        found: list[str] = []
        if self.ended_at < self.started_at:
            found.append(f"the incident ends ({self.ended_at:%Y-%m-%d %H:%M}) before it starts ({self.started_at:%Y-%m-%d %H:%M})")
        if (self.ended_at - now).total_seconds() > skew_s:
            found.append("the incident cannot end in the future")
        if self.position is None and self.place is None:
            found.append("give a position (lat/lon) or a place name")
        if self.initiator != UNKNOWN and self.initiator not in parties:
            found.append(f"the initiator {self.initiator} is not one of the parties involved ({', '.join(parties)})")
        if len({a.sha256 for a in self.attachments}) != len(self.attachments):
            found.append("an attachment is listed twice")
        return found
