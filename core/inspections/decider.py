"""The visit decider: inspections, evaluation visits and overflights share one lifecycle.

requested → accepted | refused (ground) → team entered → [flight plan agreed, overflights] →
started → completed → report submitted (by the inspecting party) → comments submitted (by the
inspected party); an accepted visit may instead be prevented by force majeure (either party) or
prohibited by the receiving party, whose written reasons are then due within the terms' clock.

Who does what: the requesting party requests, starts, completes and reports; the receiving party
replies, prohibits and comments; either records the team's entry, the agreed flight plan and force
majeure; only the system records a missed deadline. Third parties learn nothing (NotFound).
Every clock comes from the terms recorded in the request, so a terms change affects only later
requests. A visit counts against the receiving party's quota of the calendar year (UTC) in which
it was requested, once accepted, unless force majeure prevented it or it was prohibited.
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.decider import Decider, Fact
from core.errors import Invalid, NotFound, Rejected
from core.events import DomainEvent
from core.hotline.channel import acting, involved, require, require_system, text
from core.identity import check_id
from core.inspections import commands as c
from core.inspections import events as e
from core.inspections import quota as q
from core.inspections.area import check_area
from core.inspections.state import Status, Visit
from core.inspections.terms import Kind

AGGREGATE = "inspection"

_NAMES = {Kind.INSPECTION: "inspection", Kind.EVALUATION_VISIT: "evaluation visit", Kind.OVERFLIGHT: "overflight"}


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def decide(state: Visit | None, command: c.Command) -> list[DomainEvent]:
    if isinstance(command, c.RequestInspection):
        return _request(state, command)
    if state is None:
        raise NotFound(f"inspection {command.inspection_id} not found")
    if isinstance(command, c.RecordInspectionDeadlineMissed):
        require_system(command.by)
        return _missed(state, command)
    party = involved(command.by, (state.requesting_party, state.receiving_party), what=f"inspection {state.id}")
    if command.at < state.requested_at:
        raise Invalid(f"this cannot happen before the request ({_when(state.requested_at)})")
    match command:
        case c.AcceptInspection() | c.RefuseInspection():
            _receiving(state, party, "reply to")
            _in(state, (Status.REQUESTED,), "reply to")
            return [_reply(state, command)]
        case c.RecordTeamEntered():
            _in(state, (Status.ACCEPTED,), "record the team's entry into")
            late = state.entry_due is not None and command.at > state.entry_due
            tolerance = state.terms.arrival_tolerance
            plan = state.terms.plan_within
            return [e.InspectionTeamEntered(
                due=state.entry_due, late=late,
                arrival_overdue=tolerance is not None and command.at > state.expected_arrival + tolerance,
                plan_due=None if plan is None else command.at + plan,
                completion_due=command.at + state.terms.duration,
            )]
        case c.AgreeFlightPlan():
            if state.plan_due is None and state.kind is not Kind.OVERFLIGHT:
                raise Rejected(f"a flight plan is agreed only for overflights; {state.id} is an {_NAMES[state.kind]}")
            _in(state, (Status.ENTERED,), "agree the flight plan of")
            if state.plan_agreed_at is not None:
                raise Rejected(f"the flight plan of {state.id} was already agreed at {_when(state.plan_agreed_at)}")
            late = state.plan_due is not None and command.at > state.plan_due
            return [e.FlightPlanAgreed(due=state.plan_due, late=late, plan=command.plan.strip()[:20_000])]
        case c.StartInspection():
            _requesting(state, party, "start")
            _in(state, (Status.ENTERED,), "start")
            if state.plan_due is not None and state.plan_agreed_at is None:
                raise Rejected(f"the flight plan of {state.id} must be agreed before the flight starts")
            return [e.InspectionStarted()]
        case c.CompleteInspection():
            _requesting(state, party, "complete")
            _in(state, (Status.STARTED,), "complete")
            due = state.completion_due or command.at
            return [e.InspectionCompleted(due=due, late=command.at > due)]
        case c.SubmitReport():
            _requesting(state, party, "submit the report of")
            _in(state, (Status.COMPLETED,), "submit the report of")
            return [e.InspectionReportSubmitted(findings=text(command.findings, what="the findings", limit=100_000))]
        case c.SubmitComments():
            _receiving(state, party, "comment on the report of")
            _in(state, (Status.REPORTED,), "comment on the report of")
            return [e.InspectionCommentsSubmitted(comments=text(command.comments, what="the comments", limit=100_000))]
        case c.ProhibitInspection():
            _receiving(state, party, "prohibit")
            _in(state, (Status.ACCEPTED, Status.ENTERED, Status.STARTED), "prohibit")
            reasons = None if not (command.reasons or "").strip() else text(command.reasons or "", what="the reasons", limit=20_000)
            tolerance = state.terms.arrival_tolerance
            overdue = state.arrival_overdue if state.entered_at is not None else (
                tolerance is not None and command.at > state.expected_arrival + tolerance)
            return [e.InspectionProhibited(
                reasons=reasons, reasons_due=None if reasons else command.at + state.terms.reasons_within,
                arrival_overdue=overdue,
            )]
        case c.GiveProhibitionReasons():
            _receiving(state, party, "give the reasons for prohibiting")
            _in(state, (Status.PROHIBITED,), "give prohibition reasons for")
            if state.reasons_due is None or state.reasons_given_at is not None:
                raise Rejected(f"the reasons for prohibiting {state.id} were already given")
            return [e.ProhibitionReasonsGiven(reasons=text(command.reasons, what="the reasons", limit=20_000),
                                              due=state.reasons_due, late=command.at > state.reasons_due)]
        case c.DeclarePrevented():
            _in(state, (Status.ACCEPTED, Status.ENTERED, Status.STARTED), "declare force majeure for")
            return [e.InspectionPrevented(text=text(command.text, what="the force majeure explanation", limit=5000))]
    raise Invalid(f"unknown inspection command {type(command).__name__}")


def _request(state: Visit | None, command: c.RequestInspection) -> list[DomainEvent]:
    check_id(command.inspection_id, what="inspection id")
    if state is not None:
        raise Rejected(f"inspection {command.inspection_id} already exists")
    binding = require(command.binding)
    requester = acting(command.by)
    binding.channel(requester, command.to_party)
    try:
        kind = Kind(command.kind)
    except ValueError:
        raise Invalid(f"kind must be one of {', '.join(k.value for k in Kind)}") from None
    terms = binding.terms.terms.inspection_terms().of(kind)
    name = _NAMES[kind]
    eta = command.expected_arrival
    if eta.tzinfo is None:
        raise Invalid("expected_arrival must include a time zone (e.g. 2026-05-01T10:00:00Z)")
    if eta <= command.at:
        raise Invalid(f"the expected arrival ({_when(eta)}) must be after the request ({_when(command.at)})")
    if terms.entry_within is not None and eta > command.at + terms.entry_within:
        raise Invalid(
            f"the team of an {name} must be on site within {terms.entry_within} of the request"
            f" (by {_when(command.at + terms.entry_within)}); the expected arrival {_when(eta)} is later"
        )
    if isinstance(command.team_size, bool) or not isinstance(command.team_size, int) or command.team_size < 1:
        raise Invalid("the team size must be a whole number of at least 1")
    if terms.max_team_size is not None and command.team_size > terms.max_team_size:
        raise Invalid(f"an {name} team has at most {terms.max_team_size} members under terms"
                      f" version {binding.terms.version}; the request names {command.team_size}")
    notice_due = None if terms.min_notice is None else eta - terms.min_notice
    if terms.entry_within is not None:
        entry_due = command.at + terms.entry_within
    elif terms.arrival_tolerance is not None:
        entry_due = eta + terms.arrival_tolerance
    else:
        entry_due = None
    return [e.InspectionRequested(
        agreement_id=binding.agreement_id, kind=kind, requesting_party=requester,
        receiving_party=command.to_party, reasons=text(command.reasons, what="the reasons", limit=5000),
        area=check_area(command.area), point_of_entry=text(command.point_of_entry, what="the point of entry", limit=200),
        expected_arrival=eta, team_size=command.team_size, quota_year=command.at.astimezone(UTC).year,
        terms_version=binding.terms.version, terms=terms, reply_due=command.at + terms.reply_within,
        entry_due=entry_due, notice_due=notice_due, notice_late=notice_due is not None and command.at > notice_due,
    )]


def _reply(state: Visit, command: c.AcceptInspection | c.RefuseInspection) -> DomainEvent:
    if command.quota is None:
        raise Rejected("the quota state could not be determined for this reply; try again")
    use = command.quota
    others = q.QuotaUse(
        as_of=use.as_of, reported_units=use.reported_units,
        counted=tuple(i for i in use.counted if i != state.id),
        from_requester=tuple(i for i in use.from_requester if i != state.id),
        in_progress=tuple(i for i in use.in_progress if i != state.id),
    )
    recorded = q.state(state.terms, others, year=state.quota_year, terms_version=state.terms_version,
                       receiving_party=state.receiving_party)
    late = command.at > state.reply_due
    if isinstance(command, c.AcceptInspection):
        return e.InspectionAccepted(due=state.reply_due, late=late, quota=recorded,
                                    beyond_obligation=bool(recorded.grounds_holding))
    try:
        ground = q.Ground(command.ground)
    except ValueError:
        raise Invalid(f"the ground must be one of {', '.join(g.value for g in q.Ground)}") from None
    if ground is q.Ground.OTHER:
        explanation = text(command.text, what="the explanation of an 'other' ground", limit=5000)
    else:
        explanation = command.text.strip()[:5000]
    held = recorded.holds(ground)
    return e.InspectionRefused(due=state.reply_due, late=late, quota=recorded, ground=ground, text=explanation,
                               ground_held=held, unsubstantiated=held is False)


def _missed(state: Visit, command: c.RecordInspectionDeadlineMissed) -> list[DomainEvent]:
    due = state.due(command.deadline)
    if command.deadline in state.overdue(command.at) and due is not None:
        return [e.InspectionDeadlineMissed(deadline=command.deadline, due=due)]
    if due is not None and command.at < due and command.deadline in state.overdue(due):
        raise Rejected(f"the {command.deadline} deadline of inspection {state.id} is {_when(due)}; it has not passed")
    return []  # met, not applicable, or already recorded: a second scheduler changes nothing


def _in(state: Visit, allowed: tuple[Status, ...], doing: str) -> None:
    if state.status not in allowed:
        wanted = " or ".join(s.value for s in allowed)
        raise Rejected(f"cannot {doing} {_NAMES[state.kind]} {state.id}: it is {state.status.value}, not {wanted}")


def _requesting(state: Visit, party: str, doing: str) -> None:
    if party != state.requesting_party:
        raise Rejected(f"only the inspecting party, {state.requesting_party}, may {doing} {state.id};"
                       f" you are the inspected party, {party}")


def _receiving(state: Visit, party: str, doing: str) -> None:
    if party != state.receiving_party:
        raise Rejected(f"only the receiving party, {state.receiving_party}, may {doing} {state.id};"
                       f" you are the requesting party, {party}")


def evolve(state: Visit | None, event: DomainEvent, fact: Fact) -> Visit:
    match event:
        case e.InspectionRequested():
            return Visit(
                id=fact.aggregate_id, agreement_id=event.agreement_id, kind=event.kind,
                requesting_party=event.requesting_party, receiving_party=event.receiving_party,
                point_of_entry=event.point_of_entry, expected_arrival=event.expected_arrival,
                team_size=event.team_size, quota_year=event.quota_year, terms_version=event.terms_version,
                terms=event.terms, requested_at=fact.time, reply_due=event.reply_due, entry_due=event.entry_due,
                notice_due=event.notice_due, notice_late=event.notice_late,
            )
    if state is None:
        raise ValueError(f"{type(event).__name__} cannot apply to an inspection that was never requested")
    match event:
        case e.InspectionAccepted():
            return state.model_copy(update={"status": Status.ACCEPTED, "replied_at": fact.time, "reply_late": event.late,
                                            "reply_quota": event.quota})
        case e.InspectionRefused():
            return state.model_copy(update={"status": Status.REFUSED, "replied_at": fact.time, "reply_late": event.late,
                                            "refusal_ground": event.ground, "refusal_text": event.text,
                                            "ground_held": event.ground_held, "unsubstantiated": event.unsubstantiated,
                                            "reply_quota": event.quota})
        case e.InspectionTeamEntered():
            return state.model_copy(update={"status": Status.ENTERED, "entered_at": fact.time, "entry_late": event.late,
                                            "arrival_overdue": event.arrival_overdue, "plan_due": event.plan_due,
                                            "completion_due": event.completion_due})
        case e.FlightPlanAgreed():
            return state.model_copy(update={"plan_agreed_at": fact.time})
        case e.InspectionStarted():
            return state.model_copy(update={"status": Status.STARTED, "started_at": fact.time})
        case e.InspectionCompleted():
            return state.model_copy(update={"status": Status.COMPLETED, "completed_at": fact.time,
                                            "completion_late": event.late})
        case e.InspectionReportSubmitted():
            return state.model_copy(update={"status": Status.REPORTED, "reported_at": fact.time})
        case e.InspectionCommentsSubmitted():
            return state.model_copy(update={"status": Status.COMMENTED, "commented_at": fact.time})
        case e.InspectionProhibited():
            return state.model_copy(update={"status": Status.PROHIBITED, "prohibited_at": fact.time,
                                            "reasons_due": event.reasons_due,
                                            "reasons_given_at": fact.time if event.reasons else None})
        case e.ProhibitionReasonsGiven():
            return state.model_copy(update={"reasons_given_at": fact.time})
        case e.InspectionPrevented():
            return state.model_copy(update={"status": Status.PREVENTED, "prevented_at": fact.time})
        case e.InspectionDeadlineMissed():
            return state.model_copy(update={"missed": {**state.missed, event.deadline: fact.time}})
    raise ValueError(f"{type(event).__name__} cannot apply to inspection {state.id}")


DECIDER: Decider[Visit, c.Command] = Decider(type=AGGREGATE, decide=decide, evolve=evolve)
