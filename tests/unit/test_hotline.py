"""The hotline through the application service, on an in-memory store and a manual clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapters.clock import ManualClock
from core import parties
from core.agreements import agreement as ag
from core.agreements.terms import HotlineTerms, PrecedenceClocks, Terms
from core.application import Application
from core.errors import Invalid, NotFound, Rejected
from core.hotline import calls, explanations, messages as m
from core.identity import Principal, Role
from core.scheduler import Scheduler
from tests.unit.fakes import MemoryDueWork, MemoryEventStore

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
ADMIN = Principal(actor="root", role=Role.ADMIN)
A = Principal(actor="a-1", role=Role.OFFICER, party="AAA")
B = Principal(actor="b-1", role=Role.OFFICER, party="BBB")
C = Principal(actor="c-1", role=Role.OFFICER, party="CCC")


class World:
    def __init__(self) -> None:
        self.clock = ManualClock(T0)
        self.store = MemoryEventStore(clock=self.clock.now)
        self.app = Application(store=self.store, clock=self.clock)
        self._n = 0

    async def setup(self, terms: Terms = Terms()) -> None:
        for code in ("AAA", "BBB", "CCC"):
            await self.app.execute(parties.RegisterParty(code=code, name=code, by=ADMIN, at=T0))
        await self.app.execute(ag.ConcludeAgreement(agreement_id="AB", name="A–B hotline", parties=("AAA", "BBB"),
                                                    terms=terms, by=ADMIN, at=T0))
        await self.app.execute(ag.DesignateContacts(agreement_id="AB", party="BBB", primary="b-1", alternate="b-2",
                                                    by=ADMIN, at=T0))

    def scheduler(self) -> Scheduler:
        return Scheduler(app=Application(store=self.store, clock=self.clock), due=MemoryDueWork(self.store), clock=self.clock)

    async def send(self, precedence: str = "FLASH", by: Principal = A, to: str = "BBB") -> str:
        self._n += 1
        message_id = f"msg-{self._n}"
        await self.app.execute(m.SendMessage(message_id=message_id, agreement_id="AB", to_party=to,
                                             precedence=precedence, subject="Vessel approach",  # type: ignore[arg-type]
                                             body="Your destroyer is closing at 12 kn.", by=by, at=self.clock.now()))
        return message_id

    async def do(self, command_type, **fields):  # noqa: ANN001, ANN201
        return await self.app.execute(command_type(at=self.clock.now(), **fields))

    async def state(self, decider, aggregate_id):  # noqa: ANN001, ANN201
        return (await self.app.handler.load(decider, aggregate_id, fresh=True)).state

    def types(self, aggregate_id: str) -> list[str]:
        return [s.event.type.split(".")[-2] for s in self.store._log if s.event.subject == aggregate_id]


@pytest.fixture
async def world() -> World:
    w = World()
    await w.setup()
    return w


async def test_flash_deadline_missed_once_with_two_schedulers_and_ack_at_minute_12_is_late(world: World) -> None:
    message_id = await world.send("FLASH")
    world.clock.advance(minutes=10, seconds=1)
    first, second = world.scheduler(), world.scheduler()
    await asyncio.gather(first.tick(), second.tick())
    await asyncio.gather(first.tick(), second.tick())

    assert world.types(message_id).count("deadline-missed") == 1
    assert world.types(message_id).count("message-escalated") == 1
    missed = next(s.event for s in world.store._log if s.event.type.endswith("deadline-missed.v1"))
    assert missed.data["deadline"] == "acknowledgement" and missed.party == "system"
    escalated = next(s.event for s in world.store._log if s.event.type.endswith("message-escalated.v1"))
    assert escalated.data["contact"] == "b-2"  # the receiving party's alternate contact

    world.clock.set(T0 + timedelta(minutes=12))
    outcome = await world.do(m.AcknowledgeMessage, message_id=message_id, by=B)
    assert outcome.state.ack_late is True and outcome.events[0].data["late"] is True


async def test_before_the_deadline_the_scheduler_records_nothing(world: World) -> None:
    message_id = await world.send("FLASH")
    world.clock.advance(minutes=9, seconds=59)
    report = await world.scheduler().tick()
    assert report.recorded == [] and world.types(message_id) == ["message-sent"]


async def test_acknowledged_in_time_is_not_late_and_never_missed(world: World) -> None:
    message_id = await world.send("IMMEDIATE")
    world.clock.advance(minutes=29)
    await world.do(m.MarkDelivered, message_id=message_id, by=B)
    outcome = await world.do(m.AcknowledgeMessage, message_id=message_id, by=B)
    world.clock.advance(hours=5)
    await world.scheduler().tick()
    assert outcome.state.ack_late is False
    assert "deadline-missed" in world.types(message_id)  # the answer (2 h) was missed, not the ack
    missed = [s.event.data["deadline"] for s in world.store._log if s.event.type.endswith("deadline-missed.v1")]
    assert missed == ["answer"]


async def test_terms_changed_at_T_apply_only_to_messages_sent_after_T(world: World) -> None:
    before = await world.send("ROUTINE")
    change = T0 + timedelta(hours=1)
    faster = Terms(hotline=HotlineTerms(acknowledge=PrecedenceClocks(
        FLASH=timedelta(minutes=5), IMMEDIATE=timedelta(minutes=15), PRIORITY=timedelta(hours=1), ROUTINE=timedelta(hours=2))))
    await world.app.execute(ag.AmendTerms(agreement_id="AB", terms=faster, effective_from=change, by=ADMIN, at=T0))
    world.clock.set(change - timedelta(seconds=1))
    still_old = await world.send("ROUTINE")
    world.clock.set(change)
    after = await world.send("ROUTINE")

    states = {i: await world.state(m.DECIDER, i) for i in (before, still_old, after)}
    assert [states[i].terms_version for i in (before, still_old, after)] == [1, 1, 2]
    assert states[before].ack_due == T0 + timedelta(hours=6)
    assert states[after].ack_due == change + timedelta(hours=2)


async def test_third_party_cannot_acknowledge_and_learns_nothing(world: World) -> None:
    message_id = await world.send()
    with pytest.raises(NotFound, match=f"message {message_id} not found"):
        await world.do(m.AcknowledgeMessage, message_id=message_id, by=C)


async def test_third_party_cannot_send_on_an_agreement_it_is_not_bound_by(world: World) -> None:
    with pytest.raises(NotFound, match="does not bind your party CCC"):
        await world.send(by=C, to="AAA")


async def test_sender_cannot_acknowledge_its_own_message(world: World) -> None:
    message_id = await world.send()
    with pytest.raises(Rejected, match="only the recipient, BBB"):
        await world.do(m.AcknowledgeMessage, message_id=message_id, by=A)


async def test_message_to_a_party_outside_the_agreement_is_invalid(world: World) -> None:
    with pytest.raises(Invalid, match="CCC is not a party to agreement AB"):
        await world.send(to="CCC")


async def test_terms_cannot_take_effect_in_the_past(world: World) -> None:
    with pytest.raises(Invalid, match="cannot take effect in the past"):
        await world.app.execute(ag.AmendTerms(agreement_id="AB", terms=Terms(), effective_from=T0 - timedelta(days=1),
                                              by=ADMIN, at=T0))


async def test_call_request_without_response_is_recorded_at_the_deadline_then_held(world: World) -> None:
    await world.do(calls.RequestCall, request_id="call-1", agreement_id="AB", to_party="BBB", purpose="Talk", by=A)
    world.clock.advance(hours=48)
    await world.scheduler().tick()
    state = await world.state(calls.DECIDER, "call-1")
    assert state.status is calls.Status.NO_RESPONSE and state.no_response_at == T0 + timedelta(hours=48)
    outcome = await world.do(calls.RecordCallHeld, request_id="call-1", by=B, note="held by phone")
    assert outcome.state.status is calls.Status.HELD


async def test_declined_call_is_recorded_with_its_reason(world: World) -> None:
    await world.do(calls.RequestCall, request_id="call-2", agreement_id="AB", to_party="BBB", purpose="Talk", by=A)
    outcome = await world.do(calls.DeclineCall, request_id="call-2", by=B, reason="not now")
    assert outcome.state.status is calls.Status.DECLINED and outcome.state.response_late is False
    with pytest.raises(Rejected, match="already declined"):
        await world.do(calls.AcceptCall, request_id="call-2", by=B)


async def test_explanation_unanswered_leads_to_a_meeting(world: World) -> None:
    await world.do(explanations.RequestExplanation, request_id="x-1", agreement_id="AB", to_party="BBB",
                   subject="Exercise", question="Why the unannounced exercise?", by=A)
    with pytest.raises(Rejected, match="follows an unanswered request"):
        await world.do(explanations.RequestMeeting, request_id="x-1", by=A)
    world.clock.advance(hours=48, seconds=1)
    await world.scheduler().tick()
    outcome = await world.do(explanations.RequestMeeting, request_id="x-1", by=A)
    assert outcome.state.meeting_due == world.clock.now() + timedelta(hours=48)
    world.clock.advance(hours=10)
    held = await world.do(explanations.RecordMeetingHeld, request_id="x-1", by=B, note="Vienna")
    assert held.state.status is explanations.Status.MEETING_HELD and held.state.meeting_late is False


async def test_explanation_replied_late_stays_late(world: World) -> None:
    await world.do(explanations.RequestExplanation, request_id="x-2", agreement_id="AB", to_party="BBB",
                   subject="Flight", question="Explain.", by=A)
    world.clock.advance(hours=50)
    outcome = await world.do(explanations.ReplyExplanation, request_id="x-2", by=B, text="Training flight.")
    assert outcome.state.reply_late is True and outcome.state.status is explanations.Status.REPLIED
