"""The command handler signs sealed events through the `Signer` port; keys as events (decider)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import parties
from core.errors import Forbidden, Invalid, Rejected
from core.identity import Principal, Role
from core.incidents import commands as c
from core.incidents.decider import DECIDER as INCIDENTS
from core.integrity import keys as k
from core.integrity.notes import SignerKey
from core.integrity.signatures import EventSignature, signature_valid
from core.service import CommandHandler
from tests.unit.fakes import MemoryEventStore
from tests.unit.test_incidents_decider import account, officer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ADMIN = Principal(actor="a", role=Role.ADMIN)
SYSTEM_KEY = SignerKey.generate("parley.test/LOG")
USA_KEY = SignerKey.generate("USA")


async def test_events_are_signed_with_the_key_of_their_holder() -> None:
    handler = CommandHandler(store=MemoryEventStore())
    handler.signer = k.HeldKeys(keys={"system": SYSTEM_KEY})
    outcome = await handler.execute(parties.DECIDER, "USA", parties.RegisterParty(code="USA", name="United States", by=ADMIN, at=T0))
    event = outcome.events[0]
    signature = EventSignature.parse(event.signature or "")
    assert signature.name == "parley.test/LOG" and signature_valid(event, signature, SYSTEM_KEY.verifier)
    assert not signature_valid(event, signature, USA_KEY.verifier)
    assert event.hash is not None and outcome.state.code == "USA"


async def test_without_a_signer_or_a_held_key_events_stay_unsigned() -> None:
    handler = CommandHandler(store=MemoryEventStore())
    outcome = await handler.execute(parties.DECIDER, "USA", parties.RegisterParty(code="USA", name="US", by=ADMIN, at=T0))
    assert outcome.events[0].signature is None
    handler.signer = k.HeldKeys(keys={"USA": USA_KEY})  # an admin event needs the system key
    outcome = await handler.execute(parties.DECIDER, "RUS", parties.RegisterParty(code="RUS", name="RU", by=ADMIN, at=T0))
    assert outcome.events[0].signature is None


async def test_a_party_that_signs_on_its_clients_gets_no_unsigned_write_and_nothing_is_appended() -> None:
    store = MemoryEventStore()
    handler = CommandHandler(store=store)
    handler.signer = k.HeldKeys(keys={}, client_held={"USA": ("1a2b3c4d",)})
    await handler.execute(parties.DECIDER, "USA", parties.RegisterParty(code="USA", name="US", by=ADMIN, at=T0))
    assert await store.last_seq() == 1  # an admin event is the system's, not USA's

    def report(by: str, incident_id: str) -> c.ReportIncident:
        return c.ReportIncident(incident_id=incident_id, by=officer(by), at=T0, parties=("USA", "RUS"), account=account())

    with pytest.raises(Invalid, match=r"USA signs its own events \(its published key 1a2b3c4d is not held by this server\)"):
        await handler.execute(INCIDENTS, "inc-1", report("USA", "inc-1"))
    assert await store.last_seq() == 1
    # a party without a published key still writes unsigned, as before
    outcome = await handler.execute(INCIDENTS, "inc-2", report("RUS", "inc-2"))
    assert outcome.events[0].signature is None and await store.last_seq() == 2


def test_holder_of_an_event_is_its_party_or_the_system() -> None:
    assert k.holder_of({"party": "USA"}) == "USA"
    assert k.holder_of({"party": "admin"}) == "system"
    assert k.holder_of({"party": "system"}) == "system"


def _publish(holder: str, key: SignerKey, by: Principal = ADMIN) -> k.PublishKey:
    return k.PublishKey(holder=holder, verifier_key=key.verifier.encode(), by=by, at=T0)


def test_keys_are_published_once_and_retired_once() -> None:
    [published] = k.decide(None, _publish("USA", USA_KEY))
    assert isinstance(published, k.KeyPublished) and published.key_id == USA_KEY.verifier.id_hex
    state = k.evolve(None, published, None)  # type: ignore[arg-type]
    with pytest.raises(Rejected, match="already published"):
        k.decide(state, _publish("USA", USA_KEY))
    [retired] = k.decide(state, k.RetireKey(holder="USA", key_id=USA_KEY.verifier.id_hex, reason="", by=ADMIN, at=T0))
    state = k.evolve(state, retired, None)  # type: ignore[arg-type]
    assert state.active == []
    with pytest.raises(Rejected, match="already retired"):
        k.decide(state, k.RetireKey(holder="USA", key_id=USA_KEY.verifier.id_hex, reason="", by=ADMIN, at=T0))
    with pytest.raises(Rejected, match="no published key"):
        k.decide(state, k.RetireKey(holder="USA", key_id="00000000", reason="", by=ADMIN, at=T0))


@pytest.mark.parametrize(("holder", "text", "error"), [
    ("usa", USA_KEY.verifier.encode(), Invalid),
    ("USA", "USA+00000000+AAAA", Invalid),
], ids=["lower-case-holder", "unreadable-key"])  # not the random key: test ids must be stable
def test_bad_holders_and_keys_are_refused(holder: str, text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        k.decide(None, k.PublishKey(holder=holder, verifier_key=text, by=ADMIN, at=T0))


def test_only_admins_and_the_system_manage_keys() -> None:
    officer = Principal(actor="o", role=Role.OFFICER, party="USA")
    with pytest.raises(Forbidden):
        k.decide(None, _publish("USA", USA_KEY, by=officer))
