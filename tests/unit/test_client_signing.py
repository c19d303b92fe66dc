"""Client signatures in the core: prepare seals without appending, submit appends the client's
checked signatures, and every way a submit can be wrong is refused with nothing appended."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core import parties
from core.envelope import seal
from core.errors import Conflict, Invalid
from core.identity import Principal, Role
from core.incidents import commands as c
from core.incidents.decider import DECIDER as INCIDENTS
from core.integrity import keys as k
from core.integrity.client_signing import (
    CLOCK_SKEW, SIGNING_WINDOW, ClientSigning, PartyKeys, Submitted, check_pinned_time, sign_prepared, signatures_header,
)
from core.integrity.notes import SignerKey
from core.integrity.signatures import EventSignature, signature_valid, signed_bytes
from core.integrity.verification import LogVerifier
from core.ports import AggregateRef
from core.service import CommandHandler
from tests.unit.fakes import MemoryEventStore
from tests.unit.test_incidents_decider import account, officer

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ADMIN = Principal(actor="a", role=Role.ADMIN)
USA_KEY = SignerKey.generate("USA")
SERVER_USA_KEY = SignerKey.generate("USA")
RUS_KEY = SignerKey.generate("RUS")
IDS = iter(f"00000000-0000-7000-8000-{n:012d}" for n in range(1, 10_000))


def _keys(*keys: SignerKey, holder: str = "USA") -> PartyKeys:
    return PartyKeys(holder=holder, keys=tuple(key.verifier for key in keys))


def _report(at: datetime = T0) -> c.ReportIncident:
    return c.ReportIncident(incident_id="inc-1", by=officer("USA"), at=at, parties=("USA", "RUS"), account=account())


async def _prepared(handler: CommandHandler, command: c.ReportIncident | c.AmendAccount, ids: list[str]):  # noqa: ANN202
    return await handler.execute(INCIDENTS, "inc-1", command, event_ids=ids, signing=ClientSigning(keys=_keys(USA_KEY)))


def _submit(events, key: SignerKey = USA_KEY, *, keys: PartyKeys | None = None) -> ClientSigning:  # noqa: ANN001
    submitted = tuple(Submitted(event_id=e.id, hash=str(e.hash),
                                signature=EventSignature(name=key.name, key_id=key.verifier.id, signature=key.sign(signed_bytes(e))))
                      for e in events)
    return ClientSigning(keys=keys or _keys(USA_KEY), submitted=submitted)


def _handler() -> tuple[CommandHandler, MemoryEventStore]:
    store = MemoryEventStore()
    handler = CommandHandler(store=store, new_id=lambda: next(IDS))
    handler.signer = k.HeldKeys(keys={"USA": SERVER_USA_KEY})  # the server could sign; the client's signature wins
    return handler, store


async def test_prepare_seals_the_event_without_signing_or_appending_it() -> None:
    handler, store = _handler()
    outcome = await _prepared(handler, _report(), ["00000000-0000-7000-8000-aaaaaaaaaaaa"])
    assert outcome.prepared and await store.last_seq() == 0
    [event] = outcome.events
    assert event.id == "00000000-0000-7000-8000-aaaaaaaaaaaa" and event.signature is None and event.hash
    assert event.aggversion == 1 and event.prevhash is None and event.party == "USA"


async def test_a_submit_appends_the_same_event_with_the_clients_signature() -> None:
    handler, store = _handler()
    ids = ["00000000-0000-7000-8000-bbbbbbbbbbbb"]
    prepared = (await _prepared(handler, _report(), ids)).events
    outcome = await handler.execute(INCIDENTS, "inc-1", _report(), event_ids=ids, signing=_submit(prepared))
    [stored] = await store.load(AggregateRef(type="incident", id="inc-1"))
    assert not outcome.prepared and stored.event.hash == prepared[0].hash
    signature = EventSignature.parse(stored.event.signature or "")
    assert signature_valid(stored.event, signature, USA_KEY.verifier)
    assert not signature_valid(stored.event, signature, SERVER_USA_KEY.verifier)  # not the server's signature


async def test_a_signature_by_a_key_not_published_for_the_party_is_invalid_and_nothing_is_appended() -> None:
    handler, store = _handler()
    ids = ["00000000-0000-7000-8000-cccccccccccc"]
    prepared = (await _prepared(handler, _report(), ids)).events
    other = SignerKey.generate("USA")
    with pytest.raises(Invalid, match=r"not a published, unretired key of USA \(valid now: USA\+"):
        await handler.execute(INCIDENTS, "inc-1", _report(), event_ids=ids, signing=_submit(prepared, other))
    with pytest.raises(Invalid, match="signed with a key named 'RUS'; events of USA must be signed with a key of USA"):
        await handler.execute(INCIDENTS, "inc-1", _report(), event_ids=ids, signing=_submit(prepared, RUS_KEY))
    assert await store.last_seq() == 0


async def test_a_tampered_signature_does_not_verify_and_nothing_is_appended() -> None:
    handler, store = _handler()
    ids = ["00000000-0000-7000-8000-dddddddddddd"]
    prepared = (await _prepared(handler, _report(), ids)).events
    signing = _submit(prepared)
    [one] = signing.submitted or ()
    flipped = bytes([one.signature.signature[0] ^ 1]) + one.signature.signature[1:]
    tampered = replace(signing, submitted=(replace(one, signature=replace(one.signature, signature=flipped)),))
    with pytest.raises(Invalid, match="does not verify with USA key"):
        await handler.execute(INCIDENTS, "inc-1", _report(), event_ids=ids, signing=tampered)
    assert await store.last_seq() == 0


async def test_a_record_that_changed_since_the_prepare_is_a_conflict() -> None:
    handler, store = _handler()
    await handler.execute(INCIDENTS, "inc-1", _report())
    amend = c.AmendAccount(incident_id="inc-1", by=officer("USA"), at=T0 + timedelta(minutes=1),
                           account=account(severity=4), reason="re-analysed")
    ids = ["00000000-0000-7000-8000-eeeeeeeeeeee"]
    prepared = (await _prepared(handler, amend, ids)).events
    await handler.execute(INCIDENTS, "inc-1", replace(amend, reason="someone else amended first"))
    before = await store.last_seq()
    with pytest.raises(Conflict, match="changed since you prepared"):
        await handler.execute(INCIDENTS, "inc-1", amend, event_ids=ids, signing=_submit(prepared))
    assert await store.last_seq() == before


async def test_a_pinned_time_before_the_records_last_event_is_invalid() -> None:
    handler, _ = _handler()
    await handler.execute(INCIDENTS, "inc-1", _report(at=T0))
    early = c.AmendAccount(incident_id="inc-1", by=officer("USA"), at=T0 - timedelta(seconds=1),
                           account=account(severity=4), reason="x")
    with pytest.raises(Invalid, match="lies before the last event of incident inc-1"):
        await _prepared(handler, early, ["00000000-0000-7000-8000-ffffffffffff"])


def test_pinned_times_are_bounded_by_the_signing_window_and_the_clock_skew() -> None:
    check_pinned_time(T0 - SIGNING_WINDOW, now=T0)
    check_pinned_time(T0 + CLOCK_SKEW, now=T0)
    with pytest.raises(Invalid, match="more than 5 minutes old"):
        check_pinned_time(T0 - SIGNING_WINDOW - timedelta(microseconds=1), now=T0)
    with pytest.raises(Invalid, match="in the future"):
        check_pinned_time(T0 + CLOCK_SKEW + timedelta(microseconds=1), now=T0)


def test_only_a_party_with_a_published_unretired_key_signs_its_own_events() -> None:
    with pytest.raises(Invalid, match="signed by the server's system key"):
        PartyKeys.of("system", None)
    with pytest.raises(Invalid, match="USA has no published signing key"):
        PartyKeys.of("USA", None)
    [published] = k.decide(None, k.PublishKey(holder="USA", verifier_key=USA_KEY.verifier.encode(), by=ADMIN, at=T0))
    state = k.evolve(None, published, None)  # type: ignore[arg-type]
    assert PartyKeys.of("USA", state).keys == (USA_KEY.verifier,)
    [retired] = k.decide(state, k.RetireKey(holder="USA", key_id=USA_KEY.verifier.id_hex, reason="", by=ADMIN, at=T0))
    with pytest.raises(Invalid, match="no published signing key"):
        PartyKeys.of("USA", k.evolve(state, retired, None))  # type: ignore[arg-type]


async def test_the_client_tool_signs_what_it_checked_and_the_log_verifier_accepts_it() -> None:
    store = MemoryEventStore()
    handler = CommandHandler(store=store)
    handler.signer = k.HeldKeys(keys={})
    for code in ("USA", "RUS"):
        await handler.execute(parties.DECIDER, code, parties.RegisterParty(code=code, name=code, by=ADMIN, at=T0))
    await handler.execute(k.DECIDER, "USA", k.PublishKey(holder="USA", verifier_key=USA_KEY.verifier.encode(), by=ADMIN, at=T0))
    prepared = await handler.execute(INCIDENTS, "inc-1", _report(), signing=ClientSigning(keys=_keys(USA_KEY)))
    response = {"events": [{"event": e.to_dict(), "signed_bytes": base64.b64encode(signed_bytes(e)).decode()}
                           for e in prepared.events]}
    with pytest.raises(Invalid, match="asserted by USA; this is a key of RUS"):
        sign_prepared(response, RUS_KEY)
    forged = {"events": [{**response["events"][0], "event": {**response["events"][0]["event"], "data": {"forged": True}}}]}
    with pytest.raises(Invalid, match="hash does not match its content"):
        sign_prepared(forged, USA_KEY)
    signatures = sign_prepared(response, USA_KEY)
    assert signatures_header(signatures).startswith("USA ")
    submitted = tuple(Submitted(event_id=e.id, hash=str(e.hash), signature=s) for e, s in zip(prepared.events, signatures))
    [event] = (await handler.execute(INCIDENTS, "inc-1", _report(), event_ids=[e.id for e in prepared.events],
                                     signing=ClientSigning(keys=_keys(USA_KEY), submitted=submitted))).events
    verifier = LogVerifier()
    async for stored in store.read():
        verifier.add(stored.seq, "", stored.event.to_json())
    assert verifier.ok, [str(p) for p in verifier.problems]
    changed = replace(event, data={**event.data, "narrative": "edited later"})
    resealed = seal(changed, prevhash=event.prevhash)
    tampered = LogVerifier()
    async for stored in store.read():
        data = replace(resealed, signature=event.signature).to_json() if stored.event.id == event.id else stored.event.to_json()
        tampered.add(stored.seq, "", data)
    assert [(p.seq, p.what) for p in tampered.problems] == [
        (4, f"signature by USA key {USA_KEY.verifier.id_hex} does not verify (event changed, or signed with another key)")]
