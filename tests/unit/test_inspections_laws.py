"""Laws of the visit decider for any command sequence (hypothesis): a refusal is always a readable
`ParleyError`, statuses move only along the lifecycle, each clock is missed at most once, late
flags agree with the recorded due times, and folding the events again gives the same state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.agreements.terms import Terms, TermsVersion
from core.decider import Fact
from core.errors import ParleyError
from core.hotline.channel import Binding
from core.identity import SYSTEM, Principal, Role
from core.inspections import commands as c
from core.inspections.decider import DECIDER
from core.inspections.events import InspectionDeadlineMissed
from core.inspections.quota import Ground, QuotaUse
from core.inspections.state import Status

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
AREA = {"type": "Polygon", "coordinates": [[[24.0, 50.0], [25.0, 50.0], [25.0, 51.0], [24.0, 51.0], [24.0, 50.0]]]}
BINDING = Binding(agreement_id="VD", parties=("AAA", "BBB", "CCC"),
                  terms=TermsVersion(version=1, effective_from=T0, terms=Terms()))
ACTORS = [Principal(actor=f"{p.lower()}-1", role=Role.OFFICER, party=p) for p in ("AAA", "BBB", "CCC")] + [
    SYSTEM, Principal(actor="aud", role=Role.AUDITOR)]
EDGES = {
    Status.REQUESTED: {Status.ACCEPTED, Status.REFUSED},
    Status.ACCEPTED: {Status.ENTERED, Status.PROHIBITED, Status.PREVENTED},
    Status.ENTERED: {Status.STARTED, Status.PROHIBITED, Status.PREVENTED},
    Status.STARTED: {Status.COMPLETED, Status.PROHIBITED, Status.PREVENTED},
    Status.COMPLETED: {Status.REPORTED},
    Status.REPORTED: {Status.COMMENTED},
}
DEADLINES = ["notice", "reply", "entry", "flight_plan", "duration", "reasons"]


def build(choice: int, by: Principal, at: datetime, extra: int) -> Any:
    common = dict(inspection_id="v-1", by=by, at=at)
    use = QuotaUse(as_of=at, counted=tuple(f"x{i}" for i in range(extra % 4)), from_requester=("x0",) if extra % 2 else (),
                   in_progress=("x1",) if extra % 3 == 0 else (), reported_units=extra * 20)
    return [
        lambda: c.AcceptInspection(**common, quota=use),
        lambda: c.RefuseInspection(**common, ground=list(Ground)[extra % len(Ground)], text="because" if extra % 2 else "",
                                   quota=use),
        lambda: c.RecordTeamEntered(**common),
        lambda: c.AgreeFlightPlan(**common, plan="route"),
        lambda: c.StartInspection(**common),
        lambda: c.CompleteInspection(**common),
        lambda: c.SubmitReport(**common, findings="findings" if extra % 5 else " "),
        lambda: c.SubmitComments(**common, comments="comments"),
        lambda: c.ProhibitInspection(**common, reasons="unsafe" if extra % 2 else None),
        lambda: c.GiveProhibitionReasons(**common, reasons="unsafe"),
        lambda: c.DeclarePrevented(**common, text="flood"),
        lambda: c.RecordInspectionDeadlineMissed(**common, deadline=DEADLINES[extra % len(DEADLINES)]),  # type: ignore[arg-type]
    ][choice]()


#: Mostly the two parties (so sequences get deep into the lifecycle), sometimes a third party,
#: the system or an auditor.
ACTOR_WEIGHTS = [0, 0, 0, 1, 1, 1, 2, 3, 4]
#: Progressing commands more often than the ones that end a visit (refuse, prohibit, prevent).
COMMAND_WEIGHTS = [0, 0, 0, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 9, 10, 11, 11]
steps = st.lists(st.tuples(st.sampled_from(COMMAND_WEIGHTS), st.sampled_from(ACTOR_WEIGHTS), st.integers(0, 30), st.integers(0, 99)),
                 max_size=40)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["inspection", "evaluation_visit", "overflight"]), eta_hours=st.integers(-2, 120),
       team=st.integers(0, 6), plan=steps)
def test_any_command_sequence_keeps_the_lifecycle_laws(kind: str, eta_hours: int, team: int,
                                                       plan: list[tuple[int, int, int, int]]) -> None:
    now = T0
    facts: list[tuple[Any, Fact]] = []
    state = None
    request = c.RequestInspection(inspection_id="v-1", agreement_id="VD", kind=kind, to_party="BBB",  # type: ignore[arg-type]
                                  reasons="reasons", area=AREA, point_of_entry="X",
                                  expected_arrival=now + timedelta(hours=eta_hours), team_size=team,
                                  by=ACTORS[0], at=now, binding=BINDING)
    commands = [request] + [None] * len(plan)
    for index, command in enumerate(commands):
        if command is None:
            choice, actor, hours, extra = plan[index - 1]
            now += timedelta(hours=hours)
            command = build(choice, ACTORS[actor], now, extra)
        try:
            events = DECIDER.decide(state, command)
        except ParleyError as error:
            assert error.detail.strip()  # always a readable reason
            continue
        for number, event in enumerate(events):
            fact = Fact(event_id=f"e{len(facts)}", aggregate_id="v-1", party="x", actor="x", time=command.at,
                        seq=len(facts) + 1)
            before = state
            state = DECIDER.evolve(state, event, fact)
            facts.append((event, fact))
            if before is not None and before.status != state.status:
                assert state.status in EDGES.get(before.status, set()), (before.status, state.status)
            if hasattr(event, "late") and getattr(event, "due", None) is not None:
                assert event.late == (command.at > event.due)
            if isinstance(event, InspectionDeadlineMissed):
                assert before is not None and event.deadline not in before.missed
                assert command.at >= event.due
    if state is not None:
        assert DECIDER.fold(facts) == state
        assert state.refusal_ground is None or state.status is Status.REFUSED
