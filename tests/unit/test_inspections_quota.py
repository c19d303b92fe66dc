"""Quotas at decision time: refusal grounds true and false, calendar years, force majeure,
evaluation-visit arithmetic, terms versions and quota status as of a past moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.agreements import agreement as ag
from core.agreements.terms import Terms
from core.inspections import commands as c
from core.inspections import notifications as n
from core.inspections.ledger import Ledger, StreamLedger
from core.inspections.quota import Ground, QuotaState, QuotaUse, limits
from core.inspections.terms import Kind, UnitsQuota, VisitTerms, parse
from tests.unit.test_inspections_lifecycle import ADMIN, QUIET, T0, A, B, C, D, E, World


@pytest.fixture
async def world() -> World:
    w = World()
    await w.setup()
    return w


async def accepted(world: World, by: Any, *, to: Any = B, kind: str = "inspection", complete: bool = True,
                   **extra: Any) -> str:
    inspection_id = await world.request(by=by, to=to.party, kind=kind, **extra)
    if complete:
        await world.conduct(inspection_id, requester=by, host=to)
    else:
        world.clock.advance(hours=1)
        await world.do(c.AcceptInspection, inspection_id=inspection_id, by=to)
    return inspection_id


async def refuse(world: World, inspection_id: str, ground: Ground, by: Any = B) -> dict[str, Any]:
    outcome = await world.do(c.RefuseInspection, inspection_id=inspection_id, by=by, ground=ground, text="see ground")
    return outcome.events[0].data


# --- the scripted year -------------------------------------------------------------------------

async def test_fourth_inspection_request_to_one_party_is_refusable_as_quota_exhausted(world: World) -> None:
    done = [await accepted(world, officer) for officer in (A, C, D)]
    fourth = await world.request(by=E)
    data = await refuse(world, fourth, Ground.QUOTA_EXHAUSTED)
    assert data["ground_held"] is True and data["unsubstantiated"] is False
    quota = data["quota"]
    assert (quota["quota"], quota["used"], quota["used_by_requester"]) == (3, 3, 0)
    assert quota["counted"] == sorted(done) and quota["grounds_holding"] == ["quota_exhausted"]
    # the refusal is checkable from the event alone
    assert QuotaState.model_validate(quota).holds(Ground.QUOTA_EXHAUSTED) is True


async def test_quota_exhausted_after_only_one_inspection_is_unsubstantiated(world: World) -> None:
    await accepted(world, A)
    second = await world.request(by=C)
    data = await refuse(world, second, Ground.QUOTA_EXHAUSTED)
    assert data["ground_held"] is False and data["unsubstantiated"] is True
    assert data["quota"]["used"] == 1 and data["quota"]["grounds_holding"] == []
    state = await world.state(second)
    assert state.unsubstantiated is True and state.refusal_ground is Ground.QUOTA_EXHAUSTED


async def test_second_request_from_the_same_requester_is_refusable_with_the_cap_ground(world: World) -> None:
    first = await accepted(world, A)
    again = await world.request(by=A)
    data = await refuse(world, again, Ground.SAME_REQUESTER_CAP)
    assert data["ground_held"] is True and data["quota"]["from_requester"] == [first]
    other = await world.request(by=C)
    data = await refuse(world, other, Ground.SAME_REQUESTER_CAP)
    assert data["ground_held"] is False and data["unsubstantiated"] is True


async def test_concurrent_visit_ground_does_not_hold_for_inspections_without_a_limit(world: World) -> None:
    await accepted(world, A, complete=False)
    second = await world.request(by=C)
    data = await refuse(world, second, Ground.CONCURRENT_VISIT)
    assert data["quota"]["in_progress"] == 1 and data["quota"]["concurrent_limit"] is None
    assert data["unsubstantiated"] is True


async def test_force_majeure_refusal_cannot_be_judged_and_is_not_flagged(world: World) -> None:
    inspection_id = await world.request()
    data = await refuse(world, inspection_id, Ground.FORCE_MAJEURE)
    assert data["ground_held"] is None and data["unsubstantiated"] is False


async def test_a_visit_prevented_by_force_majeure_does_not_count(world: World) -> None:
    await accepted(world, A)
    await accepted(world, C)
    prevented = await accepted(world, D, complete=False)
    await world.do(c.DeclarePrevented, inspection_id=prevented, by=B, text="Earthquake closed the area")
    fourth = await world.request(by=E)
    data = await refuse(world, fourth, Ground.QUOTA_EXHAUSTED)
    assert data["quota"]["used"] == 2 and prevented not in data["quota"]["counted"]
    assert data["unsubstantiated"] is True


async def test_prohibited_and_refused_visits_do_not_count(world: World) -> None:
    prohibited = await accepted(world, A, complete=False)
    await world.do(c.ProhibitInspection, inspection_id=prohibited, by=B, reasons="Unsafe")
    refused = await world.request(by=C)
    await refuse(world, refused, Ground.OTHER)
    last = await world.request(by=D)
    outcome = await world.do(c.AcceptInspection, inspection_id=last, by=B)
    assert outcome.events[0].data["quota"]["used"] == 0


async def test_accepting_while_a_ground_holds_is_recorded_beyond_obligation(world: World) -> None:
    await accepted(world, A)
    again = await world.request(by=A)
    outcome = await world.do(c.AcceptInspection, inspection_id=again, by=B)
    data = outcome.events[0].data
    assert data["beyond_obligation"] is True and data["quota"]["grounds_holding"] == ["same_requester_cap"]


async def test_quotas_are_per_receiving_party(world: World) -> None:
    for officer in (A, C, D):
        await accepted(world, officer)
    to_c = await world.request(by=A, to="CCC")
    data = await refuse(world, to_c, Ground.QUOTA_EXHAUSTED, by=C)
    assert data["quota"]["used"] == 0 and data["unsubstantiated"] is True


# --- calendar years ----------------------------------------------------------------------------

async def test_quota_year_is_the_calendar_year_of_the_request(world: World) -> None:
    world.clock.set(datetime(2026, 12, 28, 8, 0, tzinfo=UTC))
    for officer in (A, C, D):
        await accepted(world, officer)
    world.clock.set(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    still_2026 = await world.request(by=E)
    world.clock.set(datetime(2027, 1, 1, 0, 0, tzinfo=UTC))
    new_year = await world.request(by=E, eta=timedelta(hours=10))
    world.clock.advance(hours=1)
    late_december = await refuse(world, still_2026, Ground.QUOTA_EXHAUSTED)
    january = await refuse(world, new_year, Ground.QUOTA_EXHAUSTED)
    assert (late_december["quota"]["year"], late_december["quota"]["used"], late_december["ground_held"]) == (2026, 3, True)
    assert (january["quota"]["year"], january["quota"]["used"], january["unsubstantiated"]) == (2027, 0, True)


# --- terms versions ----------------------------------------------------------------------------

async def test_terms_changed_mid_year_affect_only_later_requests(world: World) -> None:
    before = await world.request(by=A)
    change = T0 + timedelta(hours=2)
    stricter = Terms(**QUIET, inspections={"inspection": {"reply_within": "PT12H", "passive_quota": 1}})
    await world.app.execute(ag.AmendTerms(agreement_id="VD", terms=stricter, effective_from=change, by=ADMIN, at=T0))
    world.clock.set(change)
    after = await world.request(by=C)
    states = [await world.state(i) for i in (before, after)]
    assert [s.terms_version for s in states] == [1, 2]
    assert states[0].reply_due == T0 + timedelta(hours=24) and states[1].reply_due == change + timedelta(hours=12)
    world.clock.set(change + timedelta(hours=13))  # late under version 2 only
    first = await world.do(c.AcceptInspection, inspection_id=before, by=B)
    second = await world.do(c.RefuseInspection, inspection_id=after, by=B, ground=Ground.QUOTA_EXHAUSTED)
    assert first.events[0].data["late"] is False and first.events[0].data["quota"]["quota"] == 3
    data = second.events[0].data
    assert data["late"] is True and data["quota"]["terms_version"] == 2 and data["quota"]["quota"] == 1
    assert data["ground_held"] is True  # the first (accepted) inspection used version 2's quota of 1


# --- evaluation visits -------------------------------------------------------------------------

@pytest.mark.parametrize(("units", "quota", "cap"), [
    (None, 0, 1), (0, 0, 1), (1, 1, 1), (60, 1, 1), (61, 2, 1), (240, 4, 1), (241, 5, 1), (300, 5, 1),
    (599, 10, 2), (600, 10, 2), (601, 11, 2), (899, 15, 3), (900, 15, 3), (5000, 15, 3),
])
def test_evaluation_visit_quota_is_one_per_60_units_rounded_up_at_most_15(units: int | None, quota: int, cap: int) -> None:
    terms = parse({}).evaluation_visit
    found = limits(terms, receiving_party="BBB", reported_units=units)
    assert (found.quota, found.per_requester_cap, found.concurrent_limit) == (quota, cap, 1)


def test_units_quota_arithmetic_follows_the_terms() -> None:
    rule = UnitsQuota(units_per_visit=50, max_per_year=20, requester_share_divisor=4, small_quota_below=3)
    assert [rule.quota(u) for u in (49, 50, 51, 5000)] == [1, 1, 2, 20]
    assert [rule.requester_cap(q) for q in (2, 3, 8, 20)] == [1, 0, 2, 5]


async def report_units(world: World, units: int, *, by: Any = B, year: int = 2026) -> None:
    world._n += 1
    await world.do(n.ReportUnits, notification_id=f"units-{world._n}", agreement_id="VD", year=year, units=units, by=by)


async def test_evaluation_visits_follow_reported_units_per_requester_share_and_one_at_a_time(world: World) -> None:
    await report_units(world, 61)  # quota 2, at most 1 from one requester
    first = await accepted(world, A, kind="evaluation_visit", complete=False)
    concurrent = await world.request(by=C, kind="evaluation_visit")
    data = await refuse(world, concurrent, Ground.CONCURRENT_VISIT)
    assert data["ground_held"] is True and data["quota"]["in_progress_ids"] == [first]
    assert (data["quota"]["quota"], data["quota"]["reported_units"]) == (2, 61)
    for command_type, by in ((c.RecordTeamEntered, B), (c.StartInspection, A), (c.CompleteInspection, A)):
        await world.do(command_type, inspection_id=first, by=by)
    after = await world.request(by=C, kind="evaluation_visit")
    data = await refuse(world, after, Ground.CONCURRENT_VISIT)
    assert data["unsubstantiated"] is True and data["quota"]["in_progress"] == 0
    same = await world.request(by=A, kind="evaluation_visit")
    assert (await refuse(world, same, Ground.SAME_REQUESTER_CAP))["ground_held"] is True
    await accepted(world, C, kind="evaluation_visit")
    full = await world.request(by=D, kind="evaluation_visit")
    data = await refuse(world, full, Ground.QUOTA_EXHAUSTED)
    assert data["ground_held"] is True and data["quota"]["used"] == 2


async def test_evaluation_visit_without_reported_units_has_no_quota(world: World) -> None:
    visit = await world.request(kind="evaluation_visit")
    data = await refuse(world, visit, Ground.QUOTA_EXHAUSTED)
    assert data["ground_held"] is True and data["quota"]["quota"] == 0 and data["quota"]["reported_units"] is None


async def test_latest_units_report_for_the_year_sets_the_quota(world: World) -> None:
    await report_units(world, 700)
    await report_units(world, 120)  # a correction: quota 2
    await report_units(world, 900, year=2027)  # another year: ignored
    for officer in (A, C):
        await accepted(world, officer, kind="evaluation_visit")
    third = await world.request(by=D, kind="evaluation_visit")
    data = await refuse(world, third, Ground.QUOTA_EXHAUSTED)
    assert (data["quota"]["quota"], data["quota"]["reported_units"], data["ground_held"]) == (2, 120, True)


async def test_evaluation_visit_requester_share_with_a_large_quota(world: World) -> None:
    await report_units(world, 900)  # quota 15, at most 3 from one requester
    for _ in range(3):
        await accepted(world, A, kind="evaluation_visit")
    fourth = await world.request(by=A, kind="evaluation_visit")
    data = await refuse(world, fourth, Ground.SAME_REQUESTER_CAP)
    assert (data["quota"]["per_requester_cap"], data["quota"]["used_by_requester"], data["ground_held"]) == (3, 3, True)
    assert (await refuse(world, await world.request(by=C, kind="evaluation_visit"), Ground.QUOTA_EXHAUSTED))["unsubstantiated"]


# --- quota state as of a past moment -----------------------------------------------------------

async def test_quota_status_as_of_a_past_date_is_what_it_was_then(world: World) -> None:
    await accepted(world, A)
    april = datetime(2026, 4, 1, tzinfo=UTC)
    world.clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    await accepted(world, C)
    await accepted(world, D)
    agreement = await world.app.agreement("VD")
    ledger = await StreamLedger(world.store).current()

    def used(moment: datetime) -> dict[str, Any]:
        rows = ledger.status("BBB", 2026, as_of=moment, terms_of={"VD": agreement.terms_at(moment)})
        row = next(r for r in rows if r.kind is Kind.INSPECTION)
        return {"used": row.quota.used, "remaining": row.quota.remaining, "by": row.by_requester}

    assert used(april) == {"used": 1, "remaining": 2, "by": {"AAA": 1}}
    assert used(world.clock.now()) == {"used": 3, "remaining": 0, "by": {"AAA": 1, "CCC": 1, "DDD": 1}}
    assert used(T0 - timedelta(days=1))["used"] == 0


def test_the_ledger_is_a_pure_fold_in_business_time() -> None:
    ledger = Ledger()
    use = ledger.use(agreement_id="VD", kind=Kind.INSPECTION, receiving_party="BBB", requesting_party="AAA",
                     year=2026, as_of=T0)
    assert use == QuotaUse(as_of=T0)


def test_partial_terms_keep_the_defaults_of_their_kind() -> None:
    terms = parse({"overflight": {"passive_quotas": {"BBB": 42}}})
    assert terms.overflight.min_notice == timedelta(hours=72) and terms.overflight.passive_quotas == {"BBB": 42}
    assert limits(terms.overflight, receiving_party="BBB", reported_units=None).quota == 42
    assert limits(terms.overflight, receiving_party="CCC", reported_units=None).quota is None
    assert terms.inspection == VisitTerms(entry_within=timedelta(hours=36))
    with pytest.raises(ValueError, match="inspection.passive_quota"):
        Terms(inspections={"inspection": {"passive_quota": -1}})
    with pytest.raises(ValueError, match="entry clock"):
        parse({"inspection": {"entry_within": "PT1H"}})
