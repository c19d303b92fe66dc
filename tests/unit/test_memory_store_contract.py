"""The in-memory event store passes the same contract as JetStream, so core tests can trust it."""

from __future__ import annotations

import pytest

from tests.integration.contracts.event_store import EventStoreContract
from tests.unit.fakes import MemoryEventStore


class TestMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def store(self) -> MemoryEventStore:
        return MemoryEventStore()
