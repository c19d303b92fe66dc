"""Overflights (Open Skies clocks) and activity notifications, through the application service."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from core.agreements.terms import Terms
from core.errors import Invalid, NotFound, Rejected
from core.inspections import commands as c
from core.inspections import notifications as n
from core.inspections.quota import Ground
from core.inspections.state import Status
from tests.unit.test_inspections_lifecycle import AREA, QUIET, T0, A, B, C, Z, World


@pytest.fixture
async def world() -> World:
    w = World()
    await w.setup()
    return w


def missed(world: World, aggregate_id: str) -> list[str]:
    return [e.data["deadline"] for e in world.events(aggregate_id) if e.type.endswith("deadline-missed.v1")]


async def overflight(world: World, *, notice: timedelta = timedelta(hours=80), **extra: Any) -> str:
    return await world.request(kind="overflight", eta=notice, team_size=30, **extra)


async def test_overflight_clocks_run_from_the_expected_and_the_actual_arrival(world: World) -> None:
    flight = await overflight(world)
    state = await world.state(flight)
    assert state.notice_late is False and state.reply_due == T0 + timedelta(hours=24)
    assert state.entry_due == T0 + timedelta(hours=80 + 24)  # arrival tolerance after the expected arrival
    await world.do(c.AcceptInspection, inspection_id=flight, by=B)
    world.clock.set(T0 + timedelta(hours=81))
    entered = await world.do(c.RecordTeamEntered, inspection_id=flight, by=B)
    data = entered.events[0].data
    assert data["late"] is False and data["arrival_overdue"] is False
    assert entered.state.plan_due == world.clock.now() + timedelta(hours=8)
    assert entered.state.completion_due == world.clock.now() + timedelta(hours=96)
    with pytest.raises(Rejected, match="flight plan of .* must be agreed before the flight starts"):
        await world.do(c.StartInspection, inspection_id=flight, by=A)
    world.clock.advance(hours=8, seconds=1)
    await asyncio.gather(world.scheduler().tick(), world.scheduler().tick())
    agreed = await world.do(c.AgreeFlightPlan, inspection_id=flight, by=A, plan="Route 1, 2 400 km")
    assert agreed.events[0].data["late"] is True
    with pytest.raises(Rejected, match="already agreed"):
        await world.do(c.AgreeFlightPlan, inspection_id=flight, by=B)
    await world.do(c.StartInspection, inspection_id=flight, by=A)
    world.clock.set(T0 + timedelta(hours=81 + 96, seconds=1))
    await world.scheduler().tick()
    completed = await world.do(c.CompleteInspection, inspection_id=flight, by=A)
    assert completed.events[0].data["late"] is True
    assert missed(world, flight) == ["flight_plan", "duration"]


async def test_short_notice_is_recorded_once_as_a_missed_notice_at_the_request(world: World) -> None:
    flight = await overflight(world, notice=timedelta(hours=71))
    state = await world.state(flight)
    assert state.notice_late is True and state.notice_due == T0 - timedelta(hours=1)
    await asyncio.gather(world.scheduler().tick(), world.scheduler().tick())
    await world.scheduler().tick()
    events = [e for e in world.events(flight) if e.type.endswith("deadline-missed.v1")]
    assert [e.data["deadline"] for e in events] == ["notice"]
    assert events[0].time.startswith("2026-03-02T08:00:00") and events[0].data["due"] == "2026-03-02T08:00:00Z"


async def test_late_arrival_makes_the_flight_prohibitable_and_reasons_are_due_in_7_days(world: World) -> None:
    flight = await overflight(world)
    await world.do(c.AcceptInspection, inspection_id=flight, by=B)
    world.clock.set(T0 + timedelta(hours=80 + 25))
    entered = await world.do(c.RecordTeamEntered, inspection_id=flight, by=A)
    assert entered.events[0].data["late"] is True and entered.events[0].data["arrival_overdue"] is True
    prohibited = await world.do(c.ProhibitInspection, inspection_id=flight, by=B)
    assert prohibited.events[0].data["arrival_overdue"] is True
    assert prohibited.state.reasons_due == world.clock.now() + timedelta(days=7)
    world.clock.advance(days=6)
    given = await world.do(c.GiveProhibitionReasons, inspection_id=flight, by=B, reasons="Arrived 25 h after ETA.")
    assert given.events[0].data["late"] is False and given.state.status is Status.PROHIBITED
    world.clock.advance(days=30)
    await world.scheduler().tick()
    assert missed(world, flight) == []


async def test_prohibiting_before_the_tolerance_ran_out_records_the_arrival_as_not_overdue(world: World) -> None:
    flight = await overflight(world)
    await world.do(c.AcceptInspection, inspection_id=flight, by=B)
    outcome = await world.do(c.ProhibitInspection, inspection_id=flight, by=B, reasons="Airfield closed")
    assert outcome.events[0].data["arrival_overdue"] is False


async def test_overflight_that_never_arrives_misses_its_entry_clock(world: World) -> None:
    flight = await overflight(world)
    await world.do(c.AcceptInspection, inspection_id=flight, by=B)
    world.clock.set(T0 + timedelta(hours=80 + 24, seconds=1))
    await world.scheduler().tick()
    assert missed(world, flight) == ["entry"]


async def test_overflight_passive_quota_per_party_comes_from_the_terms(world: World) -> None:
    w = World()
    await w.setup(Terms(**QUIET, inspections={"overflight": {"passive_quotas": {"BBB": 1}}}))
    first = await overflight(w)
    await w.do(c.AcceptInspection, inspection_id=first, by=B)
    second = await overflight(w, by=C)
    outcome = await w.do(c.RefuseInspection, inspection_id=second, by=B, ground=Ground.QUOTA_EXHAUSTED)
    assert outcome.events[0].data["ground_held"] is True and outcome.events[0].data["quota"]["quota"] == 1
    to_c = await overflight(w, to="CCC")
    outcome = await w.do(c.RefuseInspection, inspection_id=to_c, by=C, ground=Ground.QUOTA_EXHAUSTED)
    assert outcome.events[0].data["quota"]["quota"] is None and outcome.events[0].data["unsubstantiated"] is True


# --- activity notifications --------------------------------------------------------------------

def exercise(**scale: int) -> n.Scale:
    return n.Scale(**scale)


async def notify(world: World, *, lead: timedelta, scale: n.Scale, by: Any = A, nid: str = "act-1") -> Any:
    start = world.clock.now() + lead
    return await world.do(n.NotifyActivity, notification_id=nid, agreement_id="VD", title="Exercise Northern Shield",
                          start=start, end=start + timedelta(days=5), area=AREA, scale=scale, by=by)


async def test_activity_above_threshold_notified_42_days_ahead_is_on_time(world: World) -> None:
    outcome = await notify(world, lead=timedelta(days=42), scale=exercise(troops=9000, tanks=100))
    data = outcome.events[0].data
    assert data["late"] is False and data["notifiable"] == ["troops"] and data["lead"] == "P42D"
    assert data["to_parties"] == ["BBB", "CCC", "DDD", "EEE"] and data["terms_version"] == 1


async def test_activity_above_threshold_notified_41_days_ahead_is_late(world: World) -> None:
    outcome = await notify(world, lead=timedelta(days=41, hours=23), scale=exercise(armoured_combat_vehicles=500, artillery=250))
    data = outcome.events[0].data
    assert data["late"] is True and data["notifiable"] == ["armoured_combat_vehicles", "artillery"]
    assert outcome.state.late is True


async def test_activity_below_threshold_is_never_late(world: World) -> None:
    outcome = await notify(world, lead=timedelta(days=1), scale=exercise(troops=8999, tanks=249, aircraft=400))
    assert outcome.events[0].data["late"] is False and outcome.events[0].data["notifiable"] == []


async def test_threshold_and_lead_come_from_the_terms(world: World) -> None:
    w = World()
    await w.setup(Terms(**QUIET, inspections={"activities": {"lead": "P3D", "threshold": {"aircraft": 50, "troops": None}}}))
    outcome = await notify(w, lead=timedelta(days=2), scale=exercise(troops=20000, aircraft=50))
    assert outcome.events[0].data["notifiable"] == ["aircraft"] and outcome.events[0].data["late"] is True


async def test_notifications_are_checked_and_written_once(world: World) -> None:
    with pytest.raises(NotFound, match="does not bind your party ZZZ"):
        await notify(world, lead=timedelta(days=50), scale=exercise(), by=Z)
    with pytest.raises(Invalid, match="cannot end before it starts"):
        await world.do(n.NotifyActivity, notification_id="act-x", agreement_id="VD", title="t", start=T0 + timedelta(days=2),
                       end=T0 + timedelta(days=1), area=AREA, by=A)
    await notify(world, lead=timedelta(days=50), scale=exercise())
    with pytest.raises(Rejected, match="act-1 already exists"):
        await notify(world, lead=timedelta(days=50), scale=exercise())
    with pytest.raises(Invalid, match="units must be a whole number"):
        await world.do(n.ReportUnits, notification_id="u-1", agreement_id="VD", year=2026, units=-1, by=B)
    with pytest.raises(Invalid, match="last, this or next year"):
        await world.do(n.ReportUnits, notification_id="u-1", agreement_id="VD", year=2020, units=10, by=B)
    outcome = await world.do(n.ReportUnits, notification_id="u-1", agreement_id="VD", year=2026, units=10, by=B)
    assert outcome.state.units == 10 and outcome.state.to_parties == ("AAA", "CCC", "DDD", "EEE")
