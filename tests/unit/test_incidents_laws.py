"""Laws of the incident decider that hold for every command sequence, checked with hypothesis.

A scenario is a report followed by random commands, by random principals (involved parties,
a party not involved, an observer), at increasing times. For every scenario:

1. replaying the accepted events from their stored envelopes, from scratch, gives the same state
   as evolving incrementally;
2. no event asserted by party A ever changes party B's account record;
3. a rejected command never changes state (decide raises before any event);
4. the status only moves along the allowed edges below.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.decider import Fact
from core.envelope import Event, format_time, hash_is_valid, seal
from core.errors import ParleyError
from core.events import decode
from core.identity import Principal, Role
from core.incidents import commands as c
from core.incidents.accounts import COMPARABLE_FIELDS, Account, Kind, Position
from core.incidents.decider import DECIDER
from core.incidents.state import TERMINAL, Incident, Status

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
INC = "inc-law"
PARTIES = ("USA", "RUS", "UKR")
OUTSIDER = "FRA"

#: Every status change an event may cause. Events that leave the status alone are self-loops,
#: allowed on open statuses only: a terminal incident accepts nothing at all.
ALLOWED_EDGES = frozenset({
    (None, Status.REPORTED),
    (Status.REPORTED, Status.ACKNOWLEDGED),
    (Status.ACKNOWLEDGED, Status.COUNTER_ACCOUNT_FILED),
    (Status.COUNTER_ACCOUNT_FILED, Status.RECONCILED),
    (Status.COUNTER_ACCOUNT_FILED, Status.DISPUTED),
    (Status.DISPUTED, Status.UNDER_REVIEW),
    (Status.UNDER_REVIEW, Status.RESOLVED),
    *((status, Status.RETRACTED) for status in Status if status not in TERMINAL),
})


def account(variant: int) -> Account:
    """A small set of accounts: mostly coherent, some naming a party perhaps not involved, one
    ending in the future (always rejected)."""
    initiator = ("unknown", "USA", "RUS", "UKR", "unknown", "unknown")[variant % 6]
    ended = T0 + timedelta(days=1000) if variant == 7 else T0 - timedelta(hours=1)
    return Account(
        kind=list(Kind)[variant % len(Kind)],
        started_at=T0 - timedelta(hours=2),
        ended_at=ended,
        position=Position(lat=40 + variant, lon=30 - variant) if variant % 2 == 0 else None,
        place=None if variant % 2 == 0 else f"sector {variant}",
        initiator=initiator,
        severity=1 + variant % 5,
        narrative=f"version {variant}",
    )


ACCOUNTS = [account(v) for v in range(8)]
FIELDS = sorted(COMPARABLE_FIELDS)


@dataclass(frozen=True)
class Step:
    kind: str
    actor: str
    gap_s: int
    n: int
    fields: tuple[str, ...]
    blank: bool


def principal(actor: str, parties: tuple[str, ...]) -> Principal:
    if actor.startswith("p"):
        actor = parties[int(actor[1:]) % len(parties)]
    if actor == "observer":
        return Principal(actor="obs-1", role=Role.OBSERVER)
    return Principal(actor=f"{actor.lower()}-officer", role=Role.OFFICER, party=actor)


def command_for(step: Step, at: datetime, parties: tuple[str, ...]) -> c.Command:
    by = principal(step.actor, parties)
    text = "  " if step.blank else f"text {step.n}"
    common = dict(incident_id=INC, by=by, at=at)
    cid = f"q{step.n % 3}"
    match step.kind:
        case "report":
            return c.ReportIncident(**common, parties=parties, account=ACCOUNTS[step.n % 8])
        case "ack":
            return c.AcknowledgeIncident(**common)
        case "counter":
            return c.FileCounterAccount(**common, account=ACCOUNTS[step.n % 8])
        case "amend":
            return c.AmendAccount(**common, account=ACCOUNTS[step.n % 8], reason=text)
        case "retract":
            return c.RetractIncident(**common, reason=text)
        case "ask":
            to = (*PARTIES, OUTSIDER)[step.n % 4]
            return c.RequestClarification(**common, clarification_id=cid, to_party=to, question=text)
        case "answer":
            return c.ProvideClarification(**common, clarification_id=cid, answer=text)
        case "agree":
            return c.AgreeReconciliation(**common, agreed_fields=step.fields)
        case "dispute":
            return c.DisputeIncident(**common, disputed_fields=step.fields, statement=text)
        case "review":
            return c.ReferToReview(**common, forum=text)
        case "resolve":
            return c.ResolveIncident(**common, finding=text)
    raise AssertionError(step.kind)


KINDS = (
    ["report"] + ["ack"] * 4 + ["counter"] * 4 + ["amend"] * 2 + ["retract"] + ["ask"] * 2 + ["answer"] * 2
    + ["agree"] * 5 + ["dispute"] * 2 + ["review"] * 2 + ["resolve"] * 2
)
steps = st.builds(
    Step,
    kind=st.sampled_from(KINDS),
    # "p0".."p2": an involved party (by index); otherwise a party that may or may not be involved.
    actor=st.sampled_from(["p0", "p1", "p2"] * 4 + [*PARTIES, OUTSIDER, "observer"]),
    gap_s=st.integers(min_value=0, max_value=6 * 3600),
    n=st.integers(min_value=0, max_value=11),
    fields=st.lists(st.sampled_from([*FIELDS, "colour"]), max_size=3).map(tuple),
    blank=st.sampled_from([False] * 5 + [True]),
)


def _canonical(kind: str, actor: str) -> Step:
    return Step(kind=kind, actor=actor, gap_s=60, n=0, fields=(), blank=False)


CANONICAL_PATHS = [
    [_canonical("ack", "p1"), _canonical("counter", "p1"), _canonical("dispute", "p1"),
     _canonical("review", "p0"), _canonical("resolve", "p0")],
    [_canonical("ack", "p1"), _canonical("counter", "p1"), _canonical("agree", "p0"), _canonical("agree", "p1")],
    [_canonical("ack", "p1"), _canonical("counter", "p1"), _canonical("ack", "p2"), _canonical("counter", "p2"),
     _canonical("agree", "p0"), _canonical("amend", "p1"), _canonical("agree", "p1")],
]


@st.composite
def scenarios(draw):
    reporter = draw(st.sampled_from(PARTIES))
    others = draw(st.lists(st.sampled_from([p for p in PARTIES if p != reporter]), min_size=1, max_size=2, unique=True))
    first = Step(kind="report", actor=reporter, gap_s=0, n=draw(st.sampled_from([0, 4, 6])), fields=(), blank=False)
    # Random steps rarely walk the whole lifecycle, so a scenario may start with a prefix of one of
    # the canonical paths (then carry on at random), to reach the deep statuses too.
    path = draw(st.sampled_from(CANONICAL_PATHS))
    prefix = path[: draw(st.integers(min_value=0, max_value=len(path)))]
    return (reporter, *others), [first, *prefix, *draw(st.lists(steps, min_size=1, max_size=30))]


@dataclass
class Run:
    final: Incident | None
    log: list[bytes]
    accepted: int
    rejected: int


def play(parties: tuple[str, ...], plan: list[Step]) -> Run:
    """Run the plan, checking laws 2–4 at every step; return the final state and the stored log."""
    state: Incident | None = DECIDER.initial
    log: list[bytes] = []
    prevhash = None
    at = T0
    accepted = rejected = 0
    for step in plan:
        at = at + timedelta(seconds=step.gap_s)
        command = command_for(step, at, parties)
        snapshot = copy.deepcopy(state)
        try:
            events = DECIDER.decide(state, command)
        except ParleyError as error:
            # Law 3: a refusal leaves the incident exactly as it was, and says why in words.
            assert state == snapshot
            assert str(error).strip()
            rejected += 1
            continue
        # A terminal incident accepts nothing; an accepted command records exactly one event.
        assert state is None or state.status not in TERMINAL, (state.status, command)
        assert len(events) == 1
        accepted += 1
        for domain_event in events:
            seq = len(log) + 1
            fact = Fact(event_id=f"ev-{seq}", aggregate_id=INC, party=command.by.party, actor=command.by.actor,
                        time=at, seq=seq)
            after = DECIDER.evolve(state, domain_event, fact)
            # Law 2: an event of party A never touches another party's account record.
            for other in set(after.accounts) | set(state.accounts if state else ()):
                if other != fact.party:
                    assert (state.accounts.get(other) if state else None) == after.accounts.get(other), (
                        type(domain_event).__name__, fact.party, other)
            # Law 4: the status moves along allowed edges only.
            before_status = state.status if state else None
            assert before_status == after.status or (before_status, after.status) in ALLOWED_EDGES, (
                before_status, after.status, type(domain_event).__name__)
            envelope = seal(Event(
                id=fact.event_id, type=domain_event.TYPE, source=command.by.source, subject=INC,
                time=format_time(at), aggtype=DECIDER.type, aggversion=seq, party=fact.party, actor=fact.actor,
                schemaversion=domain_event.SCHEMA_VERSION, data=domain_event.payload(),
            ), prevhash=prevhash)
            prevhash = envelope.hash
            log.append(envelope.to_json())
            state = after
    return Run(final=state, log=log, accepted=accepted, rejected=rejected)


def replay(log: list[bytes]) -> Incident | None:
    """Fold the stored log from scratch, the way a reader (or an auditor) would."""
    facts, prevhash = [], None
    for seq, raw in enumerate(log, start=1):
        envelope = Event.from_json(raw)
        assert hash_is_valid(envelope)
        assert envelope.prevhash == prevhash
        prevhash = envelope.hash
        facts.append((decode(envelope), Fact.of(envelope, seq=seq)))
    return DECIDER.fold(facts)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_incident_laws_hold_for_any_command_sequence(scenario):
    parties, plan = scenario

    run = play(parties, plan)

    # Law 1: replaying the stored events from scratch gives the state built incrementally.
    assert run.accepted >= 1
    assert replay(run.log) == run.final
    event(f"final status: {run.final.status.value}")


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios(), cut=st.integers(min_value=1, max_value=40))
def test_replaying_any_prefix_gives_the_state_as_it_stood_then(scenario, cut):
    parties, plan = scenario
    run_prefix = play(parties, plan[:cut])
    run_all = play(parties, plan)

    assert replay(run_all.log[: len(run_prefix.log)]) == run_prefix.final


def test_allowed_edges_reach_every_status_from_the_report():
    reachable, frontier = {Status.REPORTED}, [Status.REPORTED]
    while frontier:
        here = frontier.pop()
        for source, target in ALLOWED_EDGES:
            if source is here and target not in reachable:
                reachable.add(target)
                frontier.append(target)

    assert reachable == set(Status)
    assert not any(source in TERMINAL for source, _ in ALLOWED_EDGES)
