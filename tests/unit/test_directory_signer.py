"""`DirectorySigner`: keys held in a directory sign; a party whose published key is not held here
signs on its clients, so its unsigned writes are refused, with the log's answer reused briefly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.integrity.keystore import DirectorySigner, KeyDirectory
from core import parties
from core.errors import Invalid
from core.identity import Principal, Role
from core.incidents import commands as c
from core.incidents.decider import DECIDER as INCIDENTS
from core.service import CommandHandler
from tests.unit.fakes import MemoryEventStore
from tests.unit.test_incidents_decider import account, officer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ADMIN = Principal(actor="a", role=Role.ADMIN)


class Published:
    """What the log says each holder has published (the fake of `published_keys`); counts reads."""

    def __init__(self, keys: dict[str, tuple[str, ...]]) -> None:
        self.keys = keys
        self.reads: list[str] = []

    async def __call__(self, holder: str) -> tuple[str, ...]:
        self.reads.append(holder)
        return self.keys.get(holder, ())


def report(by: str, incident_id: str) -> c.ReportIncident:
    return c.ReportIncident(incident_id=incident_id, by=officer(by), at=T0, parties=("USA", "RUS"), account=account())


async def handler_with(signer: DirectorySigner) -> tuple[CommandHandler, MemoryEventStore]:
    store = MemoryEventStore()
    handler = CommandHandler(store=store)
    handler.signer = signer
    await handler.execute(parties.DECIDER, "USA", parties.RegisterParty(code="USA", name="US", by=ADMIN, at=T0))
    return handler, store


async def test_the_logs_answer_is_reused_within_the_window_and_read_again_after_it(tmp_path: Path) -> None:
    published = Published({"USA": ("1a2b3c4d",)})
    handler, store = await handler_with(DirectorySigner(KeyDirectory(tmp_path / "keys"), published=published,
                                                        published_seconds=3600))
    assert published.reads == []  # the admin event is the system's: no party to ask about
    for attempt in range(2):
        with pytest.raises(Invalid, match="USA signs its own events"):
            await handler.execute(INCIDENTS, f"inc-{attempt}", report("USA", f"inc-{attempt}"))
    assert published.reads == ["USA"] and await store.last_seq() == 1
    await handler.execute(INCIDENTS, "inc-r", report("RUS", "inc-r"))
    await handler.execute(INCIDENTS, "inc-r2", report("RUS", "inc-r2"))
    assert published.reads == ["USA", "RUS"] and await store.last_seq() == 3

    published.keys = {}  # the USA key was retired: with no window, the next write sees it at once
    again, _ = await handler_with(DirectorySigner(KeyDirectory(tmp_path / "keys"), published=published,
                                                  published_seconds=0))
    outcome = await again.execute(INCIDENTS, "inc-u", report("USA", "inc-u"))
    assert outcome.events[0].signature is None


async def test_a_key_held_here_signs_and_the_log_is_not_asked(tmp_path: Path) -> None:
    directory = KeyDirectory(tmp_path / "keys")
    directory.create_pending("USA", "USA")
    directory.activate("USA")
    published = Published({"USA": ("1a2b3c4d",)})
    handler, _ = await handler_with(DirectorySigner(directory, published=published))
    outcome = await handler.execute(INCIDENTS, "inc-1", report("USA", "inc-1"))
    assert outcome.events[0].signature is not None and outcome.events[0].signature.startswith("USA ")
    assert published.reads == []
