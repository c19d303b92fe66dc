"""The real clock (the `Clock` port). Tests inject a fixed or stepping clock instead."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
