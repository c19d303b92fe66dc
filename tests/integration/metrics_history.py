"""Random but realistic histories for the metrics tests, and the reference records they imply.

`random_world(seed)` drives the real application (deciders, terms, schedules) on an in-memory
event store with a manual clock: three parties, two agreements with check calls, messages of
every precedence acknowledged and answered on time, late or never, call and explanation
requests, incidents reported, acknowledged, counter-accounted, amended and retracted.

`reference_histories(events, ...)` is the test's own, independent reading of the same events
into `core.metrics.records`: a plain loop over the stream, no SQL, no read models. The SQL
source must produce exactly the same records (hence the same figures) on every backend.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from adapters.clock import ManualClock
from core import parties
from core.agreements import agreement as ag
from core.agreements.terms import CheckCallSchedule, HotlineTerms, Precedence, Terms
from core.application import Application
from core.decider import Fact
from core.errors import ParleyError
from core.events import decode
from core.hotline import calls, check_calls, explanations
from core.hotline import messages as m
from core.hotline.schedule import slots as schedule_slots
from core.identity import Principal, Role
from core.incidents import commands as ic
from core.incidents import decider as incident_decider
from core.incidents import events as ie
from core.incidents.accounts import Account, Kind, Position
from core.inspections import commands as vc
from core.inspections import decider as visit_decider
from core.inspections import notifications as nc
from core.inspections.quota import Ground
from core.inspections.terms import Kind as VisitKind
from core.metrics.records import (
    AccountVersion,
    CallRequestRecord,
    CheckCallRecord,
    ExplanationRecord,
    IncidentRecord,
    InspectionRecord,
    MessageRecord,
    NotificationRecord,
)
from core.metrics.report import Histories
from core.ports import StoredEvent
from tests.unit.fakes import MemoryEventStore

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # a Monday
PARTIES = ("AAA", "BBB", "CCC")
ADMIN = Principal(actor="root", role=Role.ADMIN)
AGREEMENTS = {"AB": ("AAA", "BBB"), "AC": ("AAA", "CCC")}
#: Room for several visits a year, so that reciprocity and passive use have something to count.
INSPECTION_TERMS = {"inspection": {"passive_quota": 4, "per_requester_cap": 3}}
AREA = {"type": "Polygon", "coordinates": [[[24.0, 50.0], [25.0, 50.0], [25.0, 51.0], [24.0, 51.0], [24.0, 50.0]]]}


def officer(party: str) -> Principal:
    return Principal(actor=f"{party.lower()}-1", role=Role.OFFICER, party=party)


@dataclass
class World:
    clock: ManualClock
    store: MemoryEventStore
    app: Application
    rng: random.Random
    open_messages: list[tuple[str, str]] = field(default_factory=list)  # (id, recipient)
    open_calls: list[tuple[str, str]] = field(default_factory=list)
    open_explanations: list[tuple[str, str]] = field(default_factory=list)
    visits: list[tuple[str, str]] = field(default_factory=list)  # (id, host)
    incidents: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)  # (id, parties, reporter)
    n: int = 0

    async def do(self, command: Any) -> bool:
        try:
            await self.app.execute(command)
            return True
        except ParleyError:
            return False

    def next_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    @property
    def now(self) -> datetime:
        return self.clock.now()


async def random_world(seed: int, *, steps: int = 150) -> World:
    clock = ManualClock(T0)
    store = MemoryEventStore(clock=clock.now)
    world = World(clock=clock, store=store, app=Application(store=store, clock=clock), rng=random.Random(seed))
    for code in PARTIES:
        await world.do(parties.RegisterParty(code=code, name=code, by=ADMIN, at=T0))
    schedule = CheckCallSchedule(times=(time(9, 0), time(17, 0)), caller="AAA")
    for agreement_id, members in AGREEMENTS.items():
        terms = Terms(hotline=HotlineTerms(check_calls=schedule if agreement_id == "AB" else CheckCallSchedule(
            times=(time(12, 0),), weekdays=(0, 2, 4))), inspections=INSPECTION_TERMS)
        assert await world.do(ag.ConcludeAgreement(agreement_id=agreement_id, name=agreement_id, parties=members,
                                                   terms=terms, by=ADMIN, at=T0))
    for step in range(steps):
        await _advance(world, minutes=world.rng.randint(20, 600))
        await world.rng.choice(ACTIONS)(world)
        if step == steps // 2:  # the check-call schedule changes from the next day on (a new terms version)
            later = Terms(hotline=HotlineTerms(check_calls=CheckCallSchedule(times=(time(10, 0), time(16, 0)),
                                                                             caller="AAA")),
                          inspections=INSPECTION_TERMS)
            assert await world.do(ag.AmendTerms(agreement_id="AB", terms=later, reason="new watch hours",
                                                effective_from=world.now + timedelta(days=1), by=ADMIN,
                                                at=world.now))
    return world


async def _advance(world: World, *, minutes: int) -> None:
    """Move the clock, answering (or not) the check calls that fall on the way."""
    end = world.now + timedelta(minutes=minutes)
    for agreement_id in AGREEMENTS:
        agreement = await world.app.agreement(agreement_id)
        for slot in schedule_slots(agreement, start=world.now, end=end):
            for party in slot.expected:
                if world.rng.random() < 0.7:
                    world.clock.set(max(world.now, slot.start + timedelta(minutes=world.rng.randint(0, 4))))
                    await world.do(check_calls.AnswerCheckCall(slot=slot, by=officer(party), at=world.now))
    world.clock.set(max(world.now, end))


def _pair(world: World) -> tuple[str, str, str]:
    agreement_id = world.rng.choice(sorted(AGREEMENTS))
    sender, recipient = world.rng.sample(AGREEMENTS[agreement_id], 2)
    return agreement_id, sender, recipient


async def send(world: World) -> None:
    agreement_id, sender, recipient = _pair(world)
    message_id = world.next_id("m")
    if await world.do(m.SendMessage(message_id=message_id, agreement_id=agreement_id, to_party=recipient,
                                    precedence=world.rng.choice(list(Precedence)), subject="s", body="b",
                                    answer_required=world.rng.random() < 0.8, by=officer(sender), at=world.now)):
        world.open_messages.append((message_id, recipient))
        if world.rng.random() < 0.6:  # a watch officer at the desk: acknowledged (and answered) promptly
            world.clock.advance(minutes=world.rng.randint(1, 40))
            await world.do(m.AcknowledgeMessage(message_id=message_id, by=officer(recipient), at=world.now))
            if world.rng.random() < 0.5:
                world.clock.advance(minutes=world.rng.randint(1, 200))
                await world.do(m.AnswerMessage(message_id=message_id, body="on it", by=officer(recipient),
                                               at=world.now))


async def respond_message(world: World) -> None:
    if not world.open_messages:
        return await send(world)
    message_id, recipient = world.rng.choice(world.open_messages)
    if world.rng.random() < 0.6:
        await world.do(m.AcknowledgeMessage(message_id=message_id, by=officer(recipient), at=world.now))
    else:
        await world.do(m.AnswerMessage(message_id=message_id, body="noted", by=officer(recipient), at=world.now))


async def call(world: World) -> None:
    agreement_id, sender, recipient = _pair(world)
    if world.open_calls and world.rng.random() < 0.6:
        request_id, to = world.open_calls.pop(world.rng.randrange(len(world.open_calls)))
        if world.rng.random() < 0.5:
            await world.do(calls.AcceptCall(request_id=request_id, by=officer(to), at=world.now))
        else:
            await world.do(calls.DeclineCall(request_id=request_id, reason="busy", by=officer(to), at=world.now))
        return
    request_id = world.next_id("c")
    if await world.do(calls.RequestCall(request_id=request_id, agreement_id=agreement_id, to_party=recipient,
                                        purpose="talk", by=officer(sender), at=world.now)):
        if world.rng.random() < 0.5:  # answered while the request is fresh
            world.clock.advance(minutes=world.rng.randint(10, 2400))
            await world.do(calls.AcceptCall(request_id=request_id, by=officer(recipient), at=world.now))
        else:
            world.open_calls.append((request_id, recipient))


async def explain(world: World) -> None:
    agreement_id, sender, recipient = _pair(world)
    if world.open_explanations and world.rng.random() < 0.5:
        request_id, to = world.open_explanations.pop(world.rng.randrange(len(world.open_explanations)))
        await world.do(explanations.ReplyExplanation(request_id=request_id, text="because", by=officer(to),
                                                     at=world.now))
        return
    request_id = world.next_id("e")
    if await world.do(explanations.RequestExplanation(request_id=request_id, agreement_id=agreement_id,
                                                      to_party=recipient, subject="why", question="why?",
                                                      by=officer(sender), at=world.now)):
        if world.rng.random() < 0.5:
            world.clock.advance(minutes=world.rng.randint(10, 2400))
            await world.do(explanations.ReplyExplanation(request_id=request_id, text="because",
                                                         by=officer(recipient), at=world.now))
        else:
            world.open_explanations.append((request_id, recipient))


def _account(world: World, members: tuple[str, ...]) -> Account:
    rng = world.rng
    end = world.now - timedelta(minutes=rng.randint(0, 3000))
    start = end - timedelta(minutes=rng.randint(1, 90))
    where: dict[str, Any] = {"place": "somewhere"} if rng.random() < 0.2 else {
        "position": Position(lat=43 + rng.random() / 5, lon=35 + rng.random() / 5)}
    return Account(kind=rng.choice([Kind.UNSAFE_ENCOUNTER_SEA, Kind.BORDER_INCIDENT, Kind.AIRSPACE_VIOLATION]),
                   started_at=start, ended_at=end, initiator=rng.choice([*members, "unknown"]),
                   severity=rng.randint(1, 5), casualties=rng.choice([None, 0, 1, 3]), **where)


async def incident(world: World) -> None:
    rng = world.rng
    if world.incidents and rng.random() < 0.7:
        incident_id, members, reporter = rng.choice(world.incidents)
        other = rng.choice([p for p in members if p != reporter])
        choice = rng.random()
        if choice < 0.35:
            await world.do(ic.AcknowledgeIncident(incident_id=incident_id, by=officer(other), at=world.now))
        elif choice < 0.75:
            await world.do(ic.FileCounterAccount(incident_id=incident_id, account=_account(world, members),
                                                 by=officer(other), at=world.now))
        elif choice < 0.93:
            await world.do(ic.AmendAccount(incident_id=incident_id, account=_account(world, members), reason="radar",
                                           by=officer(rng.choice(members)), at=world.now))
        else:
            await world.do(ic.RetractIncident(incident_id=incident_id, reason="error", by=officer(reporter),
                                              at=world.now))
        return
    reporter = rng.choice(PARTIES)
    members = tuple(dict.fromkeys([reporter, *rng.sample([p for p in PARTIES if p != reporter], rng.choice([1, 1, 2]))]))
    incident_id = world.next_id("i")
    if await world.do(ic.ReportIncident(incident_id=incident_id, parties=members, account=_account(world, members),
                                        by=officer(reporter), at=world.now)):
        world.incidents.append((incident_id, members, reporter))
        if rng.random() < 0.5:  # a diligent counterparty: acknowledges and files its account in time
            other = members[1]
            world.clock.advance(minutes=rng.randint(10, 1500))
            await world.do(ic.AcknowledgeIncident(incident_id=incident_id, by=officer(other), at=world.now))
            world.clock.advance(minutes=rng.randint(10, 1500))
            await world.do(ic.FileCounterAccount(incident_id=incident_id, account=_account(world, members),
                                                 by=officer(other), at=world.now))


async def inspect(world: World) -> None:
    rng = world.rng
    if world.visits and rng.random() < 0.65:
        visit_id, host = rng.choice(world.visits)
        choice = rng.random()
        if choice < 0.45:
            await world.do(vc.AcceptInspection(inspection_id=visit_id, by=officer(host), at=world.now))
        elif choice < 0.65:
            await world.do(vc.RefuseInspection(inspection_id=visit_id, ground=rng.choice(list(Ground)), text="no",
                                               by=officer(host), at=world.now))
        elif choice < 0.9:
            await world.do(vc.RecordTeamEntered(inspection_id=visit_id, by=officer(host), at=world.now))
        else:
            await world.do(vc.DeclarePrevented(inspection_id=visit_id, text="storm", by=officer(host), at=world.now))
        return
    agreement_id, requester, host = _pair(world)
    visit_id = world.next_id("v")
    if await world.do(vc.RequestInspection(
            inspection_id=visit_id, agreement_id=agreement_id, kind=VisitKind.INSPECTION, to_party=host,
            reasons="armour", area=AREA, point_of_entry="Airport X",
            expected_arrival=world.now + timedelta(hours=30), team_size=4, by=officer(requester), at=world.now)):
        world.visits.append((visit_id, host))
        if rng.random() < 0.4:  # a prompt host
            world.clock.advance(minutes=rng.randint(10, 1200))
            if await world.do(vc.AcceptInspection(inspection_id=visit_id, by=officer(host), at=world.now)):
                world.clock.advance(minutes=rng.randint(10, 1500))
                await world.do(vc.RecordTeamEntered(inspection_id=visit_id, by=officer(host), at=world.now))


async def notify(world: World) -> None:
    agreement_id, party, _ = _pair(world)
    start = world.now + timedelta(days=world.rng.randint(20, 70))  # the terms ask for 42 days
    await world.do(nc.NotifyActivity(
        notification_id=world.next_id("n"), agreement_id=agreement_id, title="Exercise", start=start,
        end=start + timedelta(days=3), area=AREA, scale=nc.Scale(troops=world.rng.choice([5000, 9500, 12000])),
        by=officer(party), at=world.now))


ACTIONS = (send, send, respond_message, respond_message, respond_message, call, explain, incident, incident, inspect,
           inspect, notify)


# --- the reference reading ------------------------------------------------------------------------

def reference_histories(events: list[StoredEvent], *, as_of: datetime, since: datetime | None = None,
                        until_seq: int | None = None) -> Histories:
    """The records of every party as known at `as_of` (and `until_seq`), straight from the events."""
    msgs: dict[str, dict[str, Any]] = {}
    reqs: dict[str, dict[str, Any]] = {}
    expl: dict[str, dict[str, Any]] = {}
    answered: dict[tuple[str, str], datetime] = {}
    agreements: dict[str, ag.Agreement] = {}
    incidents: dict[str, dict[str, Any]] = {}
    visits: dict[str, Any] = {}
    notices: list[NotificationRecord] = []
    for stored in events:
        if until_seq is not None and stored.seq > until_seq:
            break
        envelope, event = stored.event, decode(stored.event)
        at, subject = envelope.moment, envelope.subject
        fact = Fact(event_id=envelope.id, aggregate_id=subject, party=envelope.party, actor=envelope.actor, time=at,
                    seq=stored.seq)
        match event:
            case ag.AgreementConcluded() | ag.TermsAmended() | ag.ContactsDesignated():
                agreements[subject] = ag.DECIDER.evolve(agreements.get(subject), event, fact)
            case m.MessageSent():
                msgs[subject] = dict(id=subject, from_party=event.from_party, to_party=event.to_party,
                                     precedence=event.precedence.value, sent_at=at, ack_due=event.ack_due,
                                     answer_due=event.answer_due, answer_required=event.answer_required)
            case m.MessageAcknowledged():
                msgs[subject]["acknowledged_at"] = at
            case m.MessageAnswered():
                msgs[subject]["answered_at"] = at
            case check_calls.CheckCallAnswered():
                answered[(subject, event.party)] = at
            case calls.CallRequested():
                reqs[subject] = dict(id=subject, from_party=event.from_party, to_party=event.to_party,
                                     requested_at=at, respond_due=event.respond_due)
            case calls.CallAccepted() | calls.CallDeclined():
                reqs[subject].update(responded_at=at,
                                     response="accepted" if isinstance(event, calls.CallAccepted) else "declined")
            case explanations.ExplanationRequested():
                expl[subject] = dict(id=subject, from_party=event.from_party, to_party=event.to_party,
                                     requested_at=at, reply_due=event.reply_due)
            case explanations.ExplanationReplied():
                expl[subject]["replied_at"] = at
            case ie.IncidentReported() | ie.IncidentAcknowledged() | ie.CounterAccountFiled() | ie.AccountAmended() \
                    | ie.IncidentRetracted() | ie.ClarificationRequested() | ie.ClarificationProvided() \
                    | ie.ReconciliationAgreed() | ie.IncidentDisputed() | ie.IncidentReferredToReview() \
                    | ie.IncidentResolved():
                _incident_fact(incidents, event, envelope.party, at, subject, as_of)
            case nc.ActivityNotified():
                notices.append(NotificationRecord(
                    id=subject, party=event.party, to_parties=tuple(sorted(event.to_parties)), notified_at=at,
                    lead_seconds=int(event.lead.total_seconds()),
                    required_lead_seconds=int(event.required_lead.total_seconds()),
                    notifiable=bool(event.notifiable)))
            case _ if envelope.aggtype == visit_decider.AGGREGATE:
                visits[subject] = visit_decider.DECIDER.evolve(visits.get(subject), event, fact)
    since = since or datetime(1970, 1, 1, tzinfo=UTC)
    slots = []
    for agreement in agreements.values():
        for slot in schedule_slots(agreement, start=since, end=as_of):
            if slot.window_end > as_of:
                continue
            slots += [CheckCallRecord(slot_id=slot.id, party=p, caller=slot.caller, slot_start=slot.start,
                                      window_end=slot.window_end, answered_at=answered.get((slot.id, p)))
                      for p in slot.expected]
    return Histories(
        messages=[MessageRecord(**x) for x in msgs.values() if since <= x["sent_at"] <= as_of],
        check_calls=slots,
        call_requests=[CallRequestRecord(**x) for x in reqs.values() if since <= x["requested_at"] <= as_of],
        explanations=[ExplanationRecord(**x) for x in expl.values() if since <= x["requested_at"] <= as_of],
        incidents=[IncidentRecord(id=i, reporter=x["reporter"], parties=x["parties"], reported_at=x["reported_at"],
                                  accounts=tuple(x["accounts"]), acknowledged=tuple(x["acknowledged"]),
                                  statuses=tuple(x["statuses"])) for i, x in incidents.items()],
        inspections=[_visit_record(v, as_of) for v in visits.values()
                     if (since <= v.requested_at or v.quota_year == as_of.year) and v.requested_at <= as_of],
        notifications=[n for n in notices if since <= n.notified_at <= as_of],
    )


def _visit_record(v: Any, as_of: datetime) -> InspectionRecord:
    """A visit folded to the end of the cut; facts after `as_of` are left to the metrics to ignore."""
    reply = None if v.replied_at is None else ("refused" if v.refusal_ground is not None else "accepted")
    return InspectionRecord(
        id=v.id, requester=v.requesting_party, host=v.receiving_party, requested_at=v.requested_at,
        reply_due=v.reply_due, entry_due=v.entry_due, kind=v.kind.value, quota_year=v.quota_year,
        quota=v.reply_quota.quota if v.reply_quota is not None else None,
        quota_refusable=bool(v.reply_quota.grounds_holding) if v.reply_quota is not None else False,
        replied_at=v.replied_at, reply=reply, refusal_ground=v.refusal_ground.value if v.refusal_ground else None,
        refusal_ground_valid=(not v.unsubstantiated) if reply == "refused" else None, entered_at=v.entered_at,
        prevented_at=v.prevented_at, prohibited_at=v.prohibited_at)


def _incident_fact(incidents: dict[str, dict[str, Any]], event: Any, party: str, at: datetime, subject: str,
                   as_of: datetime) -> None:
    if at > as_of:
        return
    if isinstance(event, ie.IncidentReported):
        incidents[subject] = dict(reporter=party, parties=tuple(event.parties), reported_at=at, accounts=[],
                                  acknowledged=[], statuses=[], state=None)
    record = incidents[subject]
    record["state"] = incident_decider.evolve(record["state"], event, Fact(
        event_id="-", aggregate_id=subject, party=party, actor="-", time=at))
    record["statuses"].append((at, record["state"].status.value))
    if isinstance(event, ie.IncidentAcknowledged):
        record["acknowledged"].append((party, at))
    if isinstance(event, (ie.IncidentReported, ie.CounterAccountFiled, ie.AccountAmended)):
        a = event.account
        version = 1 + sum(1 for v in record["accounts"] if v.party == party)
        record["accounts"].append(AccountVersion(
            party=party, version=version, recorded_at=at, kind=a.kind.value, started_at=a.started_at,
            ended_at=a.ended_at, time_precision=a.time_precision.value,
            lat=a.position.lat if a.position else None, lon=a.position.lon if a.position else None,
            initiator=a.initiator, severity=a.severity, casualties=a.casualties))
