"""Inspections through the application service: lifecycle, who may do what, request validation
and deadline misses, on an in-memory store and a manual clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.clock import ManualClock
from core import parties
from core.agreements import agreement as ag
from core.agreements.terms import CheckCallSchedule, HotlineTerms, Terms
from core.application import Application
from core.errors import Invalid, NotFound, Rejected
from core.identity import Principal, Role
from core.inspections import commands as c
from core.inspections.decider import DECIDER
from core.inspections.quota import Ground
from core.inspections.state import Status
from core.scheduler import Scheduler
from tests.unit.fakes import MemoryDueWork, MemoryEventStore

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ADMIN = Principal(actor="root", role=Role.ADMIN)
CODES = ("AAA", "BBB", "CCC", "DDD", "EEE", "ZZZ")
OFFICERS = {code: Principal(actor=f"{code.lower()}-1", role=Role.OFFICER, party=code) for code in CODES}
A, B, C, D, E, Z = (OFFICERS[code] for code in CODES)
#: Check calls off, so a scheduler tick here only concerns inspections.
QUIET = {"hotline": HotlineTerms(check_calls=CheckCallSchedule(enabled=False))}
AREA = {"type": "Polygon", "coordinates": [[[24.0, 50.0], [25.0, 50.0], [25.0, 51.0], [24.0, 51.0], [24.0, 50.0]]]}


class World:
    """Five parties bound by one agreement (VD); ZZZ is registered but not bound."""

    def __init__(self) -> None:
        self.clock = ManualClock(T0)
        self.store = MemoryEventStore(clock=self.clock.now)
        self.app = Application(store=self.store, clock=self.clock)
        self._n = 0

    async def setup(self, terms: Terms = Terms(**QUIET)) -> None:
        for code in CODES:
            await self.app.execute(parties.RegisterParty(code=code, name=code, by=ADMIN, at=T0))
        await self.app.execute(ag.ConcludeAgreement(agreement_id="VD", name="Vienna Document", parties=CODES[:5],
                                                    terms=terms, by=ADMIN, at=T0))

    def scheduler(self) -> Scheduler:
        return Scheduler(app=Application(store=self.store, clock=self.clock), due=MemoryDueWork(self.store),
                         clock=self.clock)

    async def request(self, *, by: Principal = A, to: str = "BBB", kind: str = "inspection",
                      eta: timedelta | datetime = timedelta(hours=30), team_size: int = 4, **extra: Any) -> str:
        self._n += 1
        inspection_id = f"insp-{self._n}"
        now = self.clock.now()
        arrival = eta if isinstance(eta, datetime) else now + eta
        fields: dict[str, Any] = dict(inspection_id=inspection_id, agreement_id="VD", kind=kind, to_party=to,
                                      reasons="Concentration of armour near the border", area=AREA,
                                      point_of_entry="Airport X", expected_arrival=arrival, team_size=team_size,
                                      by=by, at=now)
        fields.update(extra)
        await self.app.execute(c.RequestInspection(**fields))
        return inspection_id

    async def do(self, command_type: Any, **fields: Any) -> Any:
        return await self.app.execute(command_type(at=self.clock.now(), **fields))

    async def state(self, inspection_id: str) -> Any:
        return (await self.app.handler.load(DECIDER, inspection_id, fresh=True)).state

    def events(self, aggregate_id: str) -> list[Any]:
        return [s.event for s in self.store._log if s.event.subject == aggregate_id]

    def types(self, aggregate_id: str) -> list[str]:
        return [event.type.split(".")[-2] for event in self.events(aggregate_id)]

    async def conduct(self, inspection_id: str, *, requester: Principal, host: Principal = B) -> None:
        """Accept, enter, start and complete, each an hour apart."""
        for command_type, by in ((c.AcceptInspection, host), (c.RecordTeamEntered, host),
                                 (c.StartInspection, requester), (c.CompleteInspection, requester)):
            self.clock.advance(hours=1)
            await self.do(command_type, inspection_id=inspection_id, by=by)


@pytest.fixture
async def world() -> World:
    w = World()
    await w.setup()
    return w


async def test_full_lifecycle_on_time_records_every_transition_and_no_miss(world: World) -> None:
    inspection_id = await world.request()
    world.clock.advance(hours=2)
    accepted = await world.do(c.AcceptInspection, inspection_id=inspection_id, by=B)
    quota = accepted.events[0].data["quota"]
    assert (quota["quota"], quota["used"], quota["terms_version"], quota["year"]) == (3, 0, 1, 2026)
    assert accepted.events[0].data["late"] is False and accepted.events[0].data["beyond_obligation"] is False
    world.clock.advance(hours=20)
    entered = await world.do(c.RecordTeamEntered, inspection_id=inspection_id, by=A)
    assert entered.events[0].data["late"] is False
    assert entered.state.completion_due == world.clock.now() + timedelta(hours=48)
    world.clock.advance(hours=1)
    await world.do(c.StartInspection, inspection_id=inspection_id, by=A)
    world.clock.advance(hours=40)
    completed = await world.do(c.CompleteInspection, inspection_id=inspection_id, by=A)
    assert completed.events[0].data["late"] is False
    await world.do(c.SubmitReport, inspection_id=inspection_id, by=A, findings="No unusual activity found.")
    outcome = await world.do(c.SubmitComments, inspection_id=inspection_id, by=B, comments="Agreed.")
    assert outcome.state.status is Status.COMMENTED
    world.clock.advance(days=30)
    report = await world.scheduler().tick()
    assert report.recorded == []
    assert world.types(inspection_id) == ["requested", "accepted", "team-entered", "started", "completed",
                                          "report-submitted", "comments-submitted"]


async def test_reply_at_25h_is_late_and_the_miss_is_recorded_once_by_two_schedulers(world: World) -> None:
    inspection_id = await world.request()
    world.clock.advance(hours=24, seconds=1)
    first, second = world.scheduler(), world.scheduler()
    await asyncio.gather(first.tick(), second.tick())
    await asyncio.gather(first.tick(), second.tick())
    missed = [e for e in world.events(inspection_id) if e.type.endswith("deadline-missed.v1")]
    assert len(missed) == 1
    assert missed[0].data == {"deadline": "reply", "due": "2026-03-03T08:00:00Z"} and missed[0].party == "system"
    assert missed[0].time == "2026-03-03T08:00:00.000000Z"  # the business time is the deadline itself
    world.clock.set(T0 + timedelta(hours=25))
    outcome = await world.do(c.AcceptInspection, inspection_id=inspection_id, by=B)
    assert outcome.events[0].data["late"] is True and outcome.state.reply_late is True


async def test_entry_and_duration_misses_are_recorded_once_each(world: World) -> None:
    inspection_id = await world.request()
    await world.do(c.AcceptInspection, inspection_id=inspection_id, by=B)
    world.clock.advance(hours=36, seconds=1)
    await asyncio.gather(world.scheduler().tick(), world.scheduler().tick())
    entered = await world.do(c.RecordTeamEntered, inspection_id=inspection_id, by=B)
    assert entered.events[0].data["late"] is True
    await world.do(c.StartInspection, inspection_id=inspection_id, by=A)
    world.clock.advance(hours=48, seconds=1)
    await asyncio.gather(world.scheduler().tick(), world.scheduler().tick())
    await world.scheduler().tick()
    completed = await world.do(c.CompleteInspection, inspection_id=inspection_id, by=A)
    assert completed.events[0].data["late"] is True
    missed = [e.data["deadline"] for e in world.events(inspection_id) if e.type.endswith("deadline-missed.v1")]
    assert missed == ["entry", "duration"]


async def test_a_deadline_that_has_not_passed_cannot_be_recorded_as_missed(world: World) -> None:
    from core.identity import SYSTEM

    inspection_id = await world.request()
    with pytest.raises(Rejected, match="has not passed"):
        await world.app.execute(c.RecordInspectionDeadlineMissed(inspection_id=inspection_id, deadline="reply",
                                                                 by=SYSTEM, at=world.clock.now()))
    with pytest.raises(Rejected, match="needs the role system"):
        await world.app.execute(c.RecordInspectionDeadlineMissed(inspection_id=inspection_id, deadline="reply",
                                                                 by=A, at=world.clock.now() + timedelta(days=2)))


# --- out of order, wrong party: rejected, nothing appended -------------------------------------

@pytest.mark.parametrize(("command_type", "by", "fields", "reason"), [
    (c.CompleteInspection, A, {}, "it is accepted, not started"),
    (c.StartInspection, A, {}, "it is accepted, not entered"),
    (c.SubmitReport, A, {"findings": "x"}, "it is accepted, not completed"),
    (c.SubmitComments, B, {"comments": "x"}, "it is accepted, not reported"),
    (c.AcceptInspection, B, {}, "it is accepted, not requested"),
    (c.RefuseInspection, B, {"ground": "other", "text": "no"}, "it is accepted, not requested"),
    (c.GiveProhibitionReasons, B, {"reasons": "x"}, "it is accepted, not prohibited"),
    (c.AgreeFlightPlan, A, {}, "only for overflights"),
    (c.StartInspection, B, {}, "only the inspecting party, AAA, may start"),
    (c.ProhibitInspection, A, {}, "only the receiving party, BBB, may prohibit"),
])
async def test_out_of_order_or_wrong_party_is_rejected_and_appends_nothing(
    world: World, command_type: Any, by: Principal, fields: dict[str, Any], reason: str,
) -> None:
    inspection_id = await world.request()
    await world.do(c.AcceptInspection, inspection_id=inspection_id, by=B)
    before = len(world.store._log)
    with pytest.raises(Rejected, match=reason):
        await world.do(command_type, inspection_id=inspection_id, by=by, **fields)
    assert len(world.store._log) == before


async def test_report_from_the_inspected_party_is_rejected_and_appends_nothing(world: World) -> None:
    inspection_id = await world.request()
    await world.conduct(inspection_id, requester=A)
    before = len(world.store._log)
    with pytest.raises(Rejected, match="only the inspecting party, AAA, may submit the report .* you are the inspected party, BBB"):
        await world.do(c.SubmitReport, inspection_id=inspection_id, by=B, findings="All fine, says the host.")
    with pytest.raises(Rejected, match="only the receiving party, BBB, may comment"):
        await world.do(c.SubmitComments, inspection_id=inspection_id, by=A, comments="x")
    assert len(world.store._log) == before
    await world.do(c.SubmitReport, inspection_id=inspection_id, by=A, findings="Found 3 battalions.")
    with pytest.raises(Rejected, match="it is reported, not completed"):
        await world.do(c.SubmitReport, inspection_id=inspection_id, by=A, findings="again")


async def test_requester_cannot_reply_to_its_own_request(world: World) -> None:
    inspection_id = await world.request()
    with pytest.raises(Rejected, match="only the receiving party, BBB, may reply"):
        await world.do(c.AcceptInspection, inspection_id=inspection_id, by=A)


async def test_third_parties_learn_nothing(world: World) -> None:
    inspection_id = await world.request()
    for officer in (C, Z):
        with pytest.raises(NotFound, match=f"inspection {inspection_id} not found"):
            await world.do(c.AcceptInspection, inspection_id=inspection_id, by=officer)
    with pytest.raises(NotFound, match="does not bind your party ZZZ"):
        await world.request(by=Z)
    with pytest.raises(NotFound, match="insp-404 not found"):
        await world.do(c.StartInspection, inspection_id="insp-404", by=A)


async def test_duplicate_request_id_is_rejected(world: World) -> None:
    await world.request()
    with pytest.raises(Rejected, match="insp-1 already exists"):
        await world.app.execute(c.RequestInspection(
            inspection_id="insp-1", agreement_id="VD", kind="inspection", to_party="BBB", reasons="r",  # type: ignore[arg-type]
            area=AREA, point_of_entry="X", expected_arrival=world.clock.now() + timedelta(hours=2), team_size=1,
            by=A, at=world.clock.now()))


# --- request validation against the terms ------------------------------------------------------

@pytest.mark.parametrize(("fields", "error", "reason"), [
    ({"team_size": 5}, Invalid, "at most 4 members under terms version 1; the request names 5"),
    ({"team_size": 0}, Invalid, "at least 1"),
    ({"eta": timedelta(hours=37)}, Invalid, "on site within 1 day, 12:00:00 of the request"),
    ({"eta": timedelta(hours=-1)}, Invalid, "must be after the request"),
    ({"eta": datetime(2026, 3, 3, 8, 0)}, Invalid, "must include a time zone"),
    ({"to": "AAA"}, Invalid, "another party of the agreement"),
    ({"to": "ZZZ"}, Invalid, "ZZZ is not a party to agreement VD"),
    ({"kind": "picnic"}, Invalid, "kind must be one of inspection, evaluation_visit, overflight"),
    ({"reasons": "  "}, Invalid, "the reasons must be 1–5000 characters"),
    ({"point_of_entry": ""}, Invalid, "the point of entry must be"),
    ({"area": {"type": "Point", "coordinates": [24.0, 50.0]}}, Invalid, "Polygon or MultiPolygon, not 'Point'"),
    ({"area": {"type": "Polygon", "coordinates": [[[24, 50], [25, 50], [25, 51], [24, 51]]]}}, Invalid, "must close"),
    ({"area": {"type": "Polygon", "coordinates": [[[24, 95], [25, 50], [25, 51], [24, 95]]]}}, Invalid, "out of range"),
    ({"area": {"type": "Polygon", "coordinates": [[[24, 50], [25, 50], [24, 50]]]}}, Invalid, "at least 4 positions"),
    ({"area": {}}, Invalid, "not None"),
])
async def test_invalid_requests_are_refused_with_a_reason(world: World, fields: dict[str, Any],
                                                          error: type[Exception], reason: str) -> None:
    args = dict(fields)
    to = args.pop("to", "BBB")
    with pytest.raises(error, match=reason):
        await world.request(to=to, **args)
    assert [s for s in world.store._log if s.event.aggtype == "inspection"] == []


async def test_a_feature_area_is_unwrapped_to_its_geometry(world: World) -> None:
    inspection_id = await world.request(area={"type": "Feature", "properties": {}, "geometry": AREA})
    assert world.events(inspection_id)[0].data["area"] == AREA


async def test_team_size_and_clocks_follow_the_terms(world: World) -> None:
    w = World()
    await w.setup(Terms(**QUIET, inspections={"inspection": {"max_team_size": 6, "entry_within": "PT48H"}}))
    inspection_id = await w.request(team_size=6, eta=timedelta(hours=47))
    state = await w.state(inspection_id)
    assert state.entry_due == T0 + timedelta(hours=48) and state.reply_due == T0 + timedelta(hours=24)


# --- prohibition and force majeure -------------------------------------------------------------

async def test_prohibition_without_reasons_needs_them_within_7_days_recorded_once(world: World) -> None:
    inspection_id = await world.request()
    await world.do(c.AcceptInspection, inspection_id=inspection_id, by=B)
    world.clock.advance(hours=2)
    prohibited = await world.do(c.ProhibitInspection, inspection_id=inspection_id, by=B)
    assert prohibited.state.reasons_due == world.clock.now() + timedelta(days=7)
    world.clock.advance(days=7, seconds=1)
    await asyncio.gather(world.scheduler().tick(), world.scheduler().tick())
    given = await world.do(c.GiveProhibitionReasons, inspection_id=inspection_id, by=B, reasons="Military exercise in the area.")
    assert given.events[0].data["late"] is True
    with pytest.raises(Rejected, match="already given"):
        await world.do(c.GiveProhibitionReasons, inspection_id=inspection_id, by=B, reasons="again")
    missed = [e.data["deadline"] for e in world.events(inspection_id) if e.type.endswith("deadline-missed.v1")]
    assert missed == ["reasons"]


async def test_prohibition_with_reasons_has_no_reasons_clock(world: World) -> None:
    inspection_id = await world.request()
    await world.do(c.AcceptInspection, inspection_id=inspection_id, by=B)
    outcome = await world.do(c.ProhibitInspection, inspection_id=inspection_id, by=B, reasons="Unsafe weather.")
    assert outcome.state.reasons_due is None and outcome.state.status is Status.PROHIBITED
    world.clock.advance(days=30)
    assert (await world.scheduler().tick()).recorded == []
    with pytest.raises(Rejected, match="it is prohibited, not entered"):
        await world.do(c.StartInspection, inspection_id=inspection_id, by=A)


async def test_force_majeure_can_be_declared_by_either_party_only_while_the_visit_is_open(world: World) -> None:
    inspection_id = await world.request()
    with pytest.raises(Rejected, match="it is requested, not accepted or entered or started"):
        await world.do(c.DeclarePrevented, inspection_id=inspection_id, by=A, text="Flood")
    await world.do(c.AcceptInspection, inspection_id=inspection_id, by=B)
    outcome = await world.do(c.DeclarePrevented, inspection_id=inspection_id, by=A, text="Airport closed by flood")
    assert outcome.state.status is Status.PREVENTED
    world.clock.advance(days=3)
    assert (await world.scheduler().tick()).recorded == []  # no entry clock runs on a prevented visit


async def test_refusal_ground_other_needs_an_explanation(world: World) -> None:
    inspection_id = await world.request()
    with pytest.raises(Invalid, match="explanation of an 'other' ground"):
        await world.do(c.RefuseInspection, inspection_id=inspection_id, by=B, ground=Ground.OTHER)
    with pytest.raises(Invalid, match="the ground must be one of"):
        await world.do(c.RefuseInspection, inspection_id=inspection_id, by=B, ground="bored")
    outcome = await world.do(c.RefuseInspection, inspection_id=inspection_id, by=B, ground=Ground.OTHER,
                             text="Area is a national park")
    data = outcome.events[0].data
    assert data["ground_held"] is None and data["unsubstantiated"] is False
    assert outcome.state.status is Status.REFUSED


@pytest.mark.parametrize(("area", "reason"), [
    ({"type": "MultiPolygon", "coordinates": []}, "at least one polygon"),
    ({"type": "MultiPolygon", "coordinates": [[]]}, "at least one linear ring"),
    ({"type": "Feature", "geometry": None}, "has no geometry"),
    ({"type": "Polygon", "coordinates": [[[True, 50], [25, 50], [25, 51], [True, 50]]]}, "must be \\[longitude, latitude\\]"),
    ({"type": "Polygon", "coordinates": [[[24, 50], [24, 50], [25, 51], [24, 50]]]}, "3 distinct positions"),
    ("POLYGON((24 50, 25 50, 25 51, 24 50))", "must be a GeoJSON object"),
])
def test_area_sanity_checks_say_what_is_wrong(area: Any, reason: str) -> None:
    from core.inspections.area import check_area

    with pytest.raises(Invalid, match=reason):
        check_area(area)


def test_a_multipolygon_area_is_accepted_as_given() -> None:
    from core.inspections.area import check_area

    multi = {"type": "MultiPolygon", "coordinates": [AREA["coordinates"], AREA["coordinates"]]}
    assert check_area(multi) == multi
