"""The incident decider: each transition, in and out of order, by whom, and what it records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from core.decider import Fact
from core.errors import Forbidden, Invalid, NotFound, Rejected
from core.identity import Principal, Role
from core.incidents import commands as c
from core.incidents import events as e
from core.incidents.accounts import COMPARABLE_FIELDS, Account, Attachment, Kind, Position
from core.incidents.decider import DECIDER, decide, evolve
from core.incidents.state import Status

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
INC = "inc-1"
DIGEST = "ab" * 32


# --- builders ------------------------------------------------------------------------------------

def officer(party: str) -> Principal:
    return Principal(actor=f"{party.lower()}-1", role=Role.OFFICER, party=party)


def _by(by: str | Principal) -> Principal:
    return by if isinstance(by, Principal) else officer(by)


def account(**changes) -> Account:
    fields = dict(
        kind=Kind.UNSAFE_ENCOUNTER_SEA,
        started_at=T0 - timedelta(hours=3),
        ended_at=T0 - timedelta(hours=2),
        position=Position(lat=43.1, lon=34.2, uncertainty_m=500),
        initiator="RUS",
        units=["USS Example"],
        cpa_m=150,
        severity=3,
        narrative="Close pass at high speed.",
    )
    fields.update(changes)
    return Account(**fields)


def report(by="USA", parties=("USA", "RUS"), acct=None, at=T0, incident_id=INC):
    return c.ReportIncident(incident_id=incident_id, by=_by(by), at=at, parties=tuple(parties), account=acct or account())


def ack(by="RUS", at=T0):
    return c.AcknowledgeIncident(incident_id=INC, by=_by(by), at=at)


def counter(by="RUS", acct=None, at=T0):
    return c.FileCounterAccount(incident_id=INC, by=_by(by), at=at, account=acct or account(initiator="USA", cpa_m=900))


def amend(by="USA", acct=None, reason="radar track re-analysed", at=T0):
    return c.AmendAccount(incident_id=INC, by=_by(by), at=at, account=acct or account(severity=4), reason=reason)


def retract(by="USA", reason="filed in error", at=T0):
    return c.RetractIncident(incident_id=INC, by=_by(by), at=at, reason=reason)


def ask(by="USA", to="RUS", cid="q1", question="What was your ship's heading?", at=T0):
    return c.RequestClarification(incident_id=INC, by=_by(by), at=at, clarification_id=cid, to_party=to, question=question)


def answer(by="RUS", cid="q1", text="Heading 270.", at=T0):
    return c.ProvideClarification(incident_id=INC, by=_by(by), at=at, clarification_id=cid, answer=text)


def agree(by="USA", fields=(), note="", at=T0):
    return c.AgreeReconciliation(incident_id=INC, by=_by(by), at=at, agreed_fields=tuple(fields), note=note)


def dispute(by="RUS", fields=("cpa",), statement="The CPA was never under 500 m.", at=T0):
    return c.DisputeIncident(incident_id=INC, by=_by(by), at=at, disputed_fields=tuple(fields), statement=statement)


def review(by="USA", forum="INCSEA annual review", at=T0):
    return c.ReferToReview(incident_id=INC, by=_by(by), at=at, forum=forum)


def resolve(by="USA", finding="Both sides misjudged the CPA.", at=T0):
    return c.ResolveIncident(incident_id=INC, by=_by(by), at=at, finding=finding)


def fact_for(command, seq: int) -> Fact:
    return Fact(event_id=f"ev-{seq}", aggregate_id=command.incident_id, party=command.by.party,
                actor=command.by.actor, time=command.at, seq=seq)


def given(*commands):
    """The incident after `commands`, each decided and folded in turn (all must be accepted)."""
    state = DECIDER.initial
    for seq, command in enumerate(commands, start=1):
        events = decide(state, command)
        assert len(events) == 1
        state = evolve(state, events[0], fact_for(command, seq))
    return state


def when(history, command):
    """Decide `command` on the incident after `history`; return the new state."""
    return given(*history, command)


REPORTED = (report(),)
ACKNOWLEDGED = (*REPORTED, ack())
FILED = (*ACKNOWLEDGED, counter())
RECONCILED = (*FILED, agree("USA"), agree("RUS"))
DISPUTED = (*FILED, dispute())
UNDER_REVIEW = (*DISPUTED, review())
RESOLVED = (*UNDER_REVIEW, resolve())
RETRACTED = (*FILED, retract())
THREE = (report(parties=("USA", "RUS", "UKR")), ack("RUS"), counter("RUS"))

OPEN_STAGES = {
    "reported": (REPORTED, Status.REPORTED),
    "acknowledged": (ACKNOWLEDGED, Status.ACKNOWLEDGED),
    "counter_account_filed": (FILED, Status.COUNTER_ACCOUNT_FILED),
    "reconciled": (RECONCILED, Status.RECONCILED),
    "disputed": (DISPUTED, Status.DISPUTED),
    "under_review": (UNDER_REVIEW, Status.UNDER_REVIEW),
}


# --- the lifecycle, in order ---------------------------------------------------------------------

def test_report_opens_the_incident_with_only_the_reporters_account():
    state = given(*REPORTED)

    assert state.status is Status.REPORTED
    assert (state.id, state.reporter, state.parties, state.reported_at) == (INC, "USA", ("USA", "RUS"), T0)
    assert list(state.accounts) == ["USA"]
    assert state.accounts["USA"].version == 1
    assert state.accounts["USA"].account == account()


def test_reporter_is_added_to_the_parties_when_not_named():
    assert given(report(parties=("RUS",))).parties == ("USA", "RUS")


def test_repeated_party_codes_are_collapsed():
    assert given(report(parties=("USA", "RUS", "RUS", "USA"))).parties == ("USA", "RUS")


def test_acknowledgement_by_the_counterparty_moves_to_acknowledged():
    state = when(REPORTED, ack("RUS", at=T0 + timedelta(minutes=5)))

    assert state.status is Status.ACKNOWLEDGED
    assert state.acknowledged == {"RUS": T0 + timedelta(minutes=5)}


def test_counter_account_after_acknowledgement_is_held_beside_the_reporters():
    state = given(*FILED)

    assert state.status is Status.COUNTER_ACCOUNT_FILED
    assert state.accounts["USA"].account == account()
    assert state.accounts["RUS"].account == account(initiator="USA", cpa_m=900)
    assert state.accounts["RUS"].version == 1


def test_reconciliation_by_one_party_is_not_yet_reconciled():
    state = when(FILED, agree("USA", fields=("time", "kind"), note=" ok "))

    assert state.status is Status.COUNTER_ACCOUNT_FILED
    assert state.reconciliation == {"USA": ("kind", "time")}


def test_reconciliation_by_both_account_holders_reconciles():
    assert given(*RECONCILED).status is Status.RECONCILED


def test_dispute_review_and_resolution_run_in_order():
    disputed = given(*DISPUTED)
    assert (disputed.status, disputed.disputed_by, disputed.disputed_fields) == (Status.DISPUTED, "RUS", ("cpa",))
    assert disputed.dispute_statement == "The CPA was never under 500 m."

    under_review = given(*UNDER_REVIEW)
    assert (under_review.status, under_review.review_forum) == (Status.UNDER_REVIEW, "INCSEA annual review")

    resolved = given(*RESOLVED)
    assert (resolved.status, resolved.finding) == (Status.RESOLVED, "Both sides misjudged the CPA.")


def test_dispute_without_fields_disputes_every_comparable_field():
    assert given(*FILED, dispute(fields=())).disputed_fields == tuple(sorted(COMPARABLE_FIELDS))


def test_reporter_may_dispute_too():
    assert given(*FILED, dispute(by="USA")).disputed_by == "USA"


def test_every_accepted_command_records_exactly_one_event_of_its_kind():
    steps = [
        (REPORTED[0], e.IncidentReported), (ack(), e.IncidentAcknowledged), (counter(), e.CounterAccountFiled),
        (ask(), e.ClarificationRequested), (answer(), e.ClarificationProvided), (amend(), e.AccountAmended),
        (dispute(), e.IncidentDisputed), (review(), e.IncidentReferredToReview), (resolve(), e.IncidentResolved),
    ]
    state = None
    for seq, (command, kind) in enumerate(steps, start=1):
        events = decide(state, command)
        assert [type(ev) for ev in events] == [kind]
        state = evolve(state, events[0], fact_for(command, seq))


def test_updated_at_follows_the_latest_event():
    assert given(*REPORTED, ack(at=T0 + timedelta(hours=1))).updated_at == T0 + timedelta(hours=1)


# --- out of order and duplicates -----------------------------------------------------------------

OUT_OF_ORDER = [
    pytest.param((), ack(), NotFound, ["inc-1 has not been reported"], id="ack-before-report"),
    pytest.param(REPORTED, report(), Rejected, ["inc-1 already exists"], id="report-twice"),
    pytest.param(REPORTED, ack("USA"), Rejected, ["USA reported this incident", "other side"], id="ack-by-reporter"),
    pytest.param(ACKNOWLEDGED, ack("RUS"), Rejected, ["RUS has already acknowledged"], id="ack-twice"),
    pytest.param(REPORTED, counter("RUS"), Rejected, ["RUS must acknowledge the incident before filing"],
                 id="counter-account-before-acknowledgement"),
    pytest.param(ACKNOWLEDGED, counter("USA"), Rejected, ["USA has already filed its account; amend it instead"],
                 id="counter-account-by-reporter"),
    pytest.param(FILED, counter("RUS"), Rejected, ["RUS has already filed its account"], id="counter-account-twice"),
    pytest.param(REPORTED, agree("USA"), Rejected, ["cannot reconcile an incident that is reported",
                                                    "must be counter account filed"], id="reconcile-before-counter-account"),
    pytest.param(ACKNOWLEDGED, agree("RUS"), Rejected, ["cannot reconcile an incident that is acknowledged"],
                 id="reconcile-before-counter-account-acked"),
    pytest.param((*FILED, agree("USA")), agree("USA"), Rejected, ["USA has already agreed"], id="reconcile-twice"),
    pytest.param(RECONCILED, agree("USA"), Rejected, ["cannot reconcile an incident that is reconciled"],
                 id="reconcile-when-reconciled"),
    pytest.param(DISPUTED, agree("USA"), Rejected, ["cannot reconcile an incident that is disputed"],
                 id="reconcile-when-disputed"),
    pytest.param((*THREE, ack("UKR")), agree("UKR"), Rejected, ["UKR has not filed an account"],
                 id="reconcile-without-an-account"),
    pytest.param(ACKNOWLEDGED, dispute(), Rejected, ["cannot dispute an incident that is acknowledged"],
                 id="dispute-before-counter-account"),
    pytest.param(DISPUTED, dispute(), Rejected, ["cannot dispute an incident that is disputed"], id="dispute-twice"),
    pytest.param(RECONCILED, dispute(), Rejected, ["cannot dispute an incident that is reconciled"],
                 id="dispute-after-reconciliation"),
    pytest.param(FILED, review(), Rejected, ["cannot refer to review an incident that is counter account filed",
                                             "must be disputed"], id="review-before-dispute"),
    pytest.param(UNDER_REVIEW, review(), Rejected, ["cannot refer to review an incident that is under review"],
                 id="review-twice"),
    pytest.param(DISPUTED, resolve(), Rejected, ["cannot resolve an incident that is disputed", "must be under review"],
                 id="resolve-before-review"),
    pytest.param(FILED, resolve(), Rejected, ["cannot resolve"], id="resolve-without-dispute"),
    pytest.param(ACKNOWLEDGED, amend("RUS"), Rejected, ["RUS has no account on this incident to amend"],
                 id="amend-without-an-account"),
    pytest.param(RECONCILED, amend("USA"), Rejected, ["the accounts are reconciled; they can no longer change"],
                 id="amend-after-reconciliation"),
    pytest.param(UNDER_REVIEW, amend("RUS"), Rejected, ["the accounts are under review; they can no longer change"],
                 id="amend-under-review"),
    pytest.param((*THREE, agree("USA"), agree("RUS"), ack("UKR")),
                 counter("UKR", acct=account(initiator="UKR")), Rejected, ["the accounts are reconciled"],
                 id="counter-account-after-reconciliation"),
    pytest.param(FILED, retract("RUS"), Forbidden, ["only the reporting party, USA, may retract"],
                 id="retract-by-counterparty"),
]


@pytest.mark.parametrize(("history", "command", "error", "fragments"), OUT_OF_ORDER)
def test_out_of_order_or_duplicate_command_is_rejected_with_a_readable_message(history, command, error, fragments):
    state = given(*history)

    with pytest.raises(error) as caught:
        decide(state, command)

    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(("history", "status"), OPEN_STAGES.values(), ids=OPEN_STAGES.keys())
def test_reporter_may_retract_at_any_open_stage(history, status):
    state = when(history, retract(reason="  duplicate of inc-0  "))

    assert given(*history).status is status
    assert state.status is Status.RETRACTED
    assert state.retraction_reason == "duplicate of inc-0"


# --- who may act ---------------------------------------------------------------------------------

ALL_KINDS = {
    "ack": lambda p: ack(p),
    "counter": lambda p: counter(p),
    "amend": lambda p: amend(p),
    "retract": lambda p: retract(p),
    "ask": lambda p: ask(p, to="USA"),
    "answer": lambda p: answer(p),
    "agree": lambda p: agree(p),
    "dispute": lambda p: dispute(p),
    "review": lambda p: review(p),
    "resolve": lambda p: resolve(p),
}


@pytest.mark.parametrize("make", ALL_KINDS.values(), ids=ALL_KINDS.keys())
def test_party_not_involved_is_forbidden_with_a_message_naming_the_parties(make):
    with pytest.raises(Forbidden) as caught:
        decide(given(*FILED, ask("USA", to="RUS")), make("FRA"))

    assert str(caught.value) == "only the parties involved (USA, RUS) may act on this incident; you are FRA"


@pytest.mark.parametrize("make", ALL_KINDS.values(), ids=ALL_KINDS.keys())
@pytest.mark.parametrize("role", [Role.OBSERVER, Role.ADMIN, Role.AUDITOR, Role.SYSTEM])
def test_party_less_principal_cannot_act_as_a_party(role, make):
    principal = Principal(actor="someone", role=role)

    with pytest.raises(Forbidden, match=f"only an officer of a party may do this; you are {role.value}"):
        decide(given(*FILED), make(principal))


@pytest.mark.parametrize("role", [Role.OBSERVER, Role.ADMIN, Role.AUDITOR])
def test_non_officer_principal_cannot_act_even_when_it_carries_a_party(role):
    principal = Principal(actor="someone", role=role, party="RUS")

    with pytest.raises(Forbidden, match="only an officer of a party"):
        decide(given(*REPORTED), ack(principal))
    with pytest.raises(Forbidden, match="only an officer of a party"):
        decide(None, report(principal, parties=("RUS", "USA")))


def test_importer_acts_for_its_party():
    importer = Principal(actor="import-1", role=Role.IMPORTER, party="RUS")

    assert given(*REPORTED, ack(importer)).acknowledged == {"RUS": T0}


# --- terminal states -----------------------------------------------------------------------------

TERMINALS = {"retracted": RETRACTED, "resolved": RESOLVED}
BY_PARTIES = {f"{kind}-by-{party}": (kind, party) for kind in ALL_KINDS for party in ("USA", "RUS")}


@pytest.mark.parametrize("history", TERMINALS.values(), ids=TERMINALS.keys())
@pytest.mark.parametrize(("kind", "party"), BY_PARTIES.values(), ids=BY_PARTIES.keys())
def test_terminal_incident_rejects_every_command(history, kind, party):
    state = given(*history)

    with pytest.raises(Rejected, match=f"the incident is {state.status.value}; nothing more can be recorded"):
        decide(state, ALL_KINDS[kind](party))


@pytest.mark.parametrize("history", TERMINALS.values(), ids=TERMINALS.keys())
def test_terminal_incident_cannot_be_reported_again(history):
    with pytest.raises(Rejected, match="already exists"):
        decide(given(*history), report())


# --- amendments and reconciliation ---------------------------------------------------------------

def test_amendment_replaces_only_the_amending_partys_account_and_bumps_its_version():
    before = given(*FILED)
    later = T0 + timedelta(hours=1)

    after = when(FILED, amend("USA", acct=account(severity=5), reason=" new radar data ", at=later))

    assert after.accounts["RUS"] == before.accounts["RUS"]
    usa = after.accounts["USA"]
    assert (usa.account.severity, usa.version, usa.filed_at, usa.amended_at, usa.amendment_reason) == (
        5, 2, T0, later, "new radar data")
    assert before.accounts["USA"].account.severity == 3  # the old state is untouched


def test_each_amendment_bumps_the_version_again():
    state = given(*FILED, amend("RUS"), amend("RUS"), amend("USA"))

    assert (state.accounts["RUS"].version, state.accounts["USA"].version) == (3, 2)


def test_reporter_may_amend_before_anyone_acknowledges():
    assert given(*REPORTED, amend("USA")).accounts["USA"].version == 2


def test_accounts_may_still_be_amended_while_disputed():
    state = given(*DISPUTED, amend("RUS"))

    assert state.status is Status.DISPUTED
    assert state.accounts["RUS"].version == 2


def test_reconciliation_resets_after_an_amendment():
    partly = given(*FILED, agree("USA"))
    assert partly.reconciliation.keys() == {"USA"}

    amended = when((*FILED, agree("USA")), amend("RUS"))
    assert amended.reconciliation == {}
    assert amended.status is Status.COUNTER_ACCOUNT_FILED

    # USA's earlier agreement no longer counts: RUS alone cannot reconcile, USA must agree again.
    assert given(*FILED, agree("USA"), amend("RUS"), agree("RUS")).status is Status.COUNTER_ACCOUNT_FILED
    assert given(*FILED, agree("USA"), amend("RUS"), agree("RUS"), agree("USA")).status is Status.RECONCILED


def test_reconciliation_resets_when_another_party_files_its_account():
    state = given(*THREE, agree("USA"), ack("UKR"), counter("UKR", acct=account(initiator="UKR")))

    assert state.reconciliation == {}
    assert state.status is Status.COUNTER_ACCOUNT_FILED


def test_reconciliation_needs_every_account_holder():
    history = (*THREE, ack("UKR"), counter("UKR", acct=account(initiator="UKR")), agree("USA"), agree("RUS"))

    assert given(*history).status is Status.COUNTER_ACCOUNT_FILED
    assert when(history, agree("UKR")).status is Status.RECONCILED


def test_late_acknowledgement_by_a_third_party_keeps_the_status():
    state = given(*THREE, ack("UKR"))

    assert state.status is Status.COUNTER_ACCOUNT_FILED
    assert set(state.acknowledged) == {"RUS", "UKR"}


@pytest.mark.parametrize("command", [agree(fields=("cpa", "colour")), dispute(fields=("colour",))],
                         ids=["agree", "dispute"])
def test_unknown_field_names_are_rejected_listing_the_valid_ones(command):
    with pytest.raises(Invalid) as caught:
        decide(given(*FILED), command)

    assert str(caught.value) == (
        "unknown field(s) colour; use casualties, cpa, initiator, kind, narrative, position, severity, time, units"
    )


# --- clarifications ------------------------------------------------------------------------------

@pytest.mark.parametrize(("history", "status"), OPEN_STAGES.values(), ids=OPEN_STAGES.keys())
def test_clarification_can_be_asked_and_answered_at_any_open_stage(history, status):
    asked = when(history, ask("USA", to="RUS", at=T0 + timedelta(minutes=1)))
    answered = given(*history, ask("USA", to="RUS"), answer("RUS", text="  Heading 270.  ", at=T0 + timedelta(hours=2)))

    assert asked.status is status
    item = asked.clarifications["q1"]
    assert (item.from_party, item.to_party, item.question, item.asked_at, item.answer) == (
        "USA", "RUS", "What was your ship's heading?", T0 + timedelta(minutes=1), None)
    done = answered.clarifications["q1"]
    assert (done.answer, done.answered_at, done.question) == ("Heading 270.", T0 + timedelta(hours=2), item.question)
    assert answered.status is status


CLARIFICATION_RULES = [
    pytest.param(REPORTED, ask("USA", to="USA"), Invalid, ["ask one of the other parties (RUS), not USA"],
                 id="ask-yourself"),
    pytest.param(REPORTED, ask("USA", to="FRA"), Invalid, ["ask one of the other parties (RUS), not FRA"],
                 id="ask-a-party-not-involved"),
    pytest.param((*REPORTED, ask()), ask(question="Another?"), Rejected, ["clarification q1 already exists"],
                 id="ask-with-a-used-id"),
    pytest.param(REPORTED, ask(cid="q 1"), Invalid, ["clarification id 'q 1' must be"], id="ask-with-a-bad-id"),
    pytest.param(REPORTED, ask(question="   "), Invalid, ["the question must not be empty"], id="ask-nothing"),
    pytest.param(REPORTED, ask(question="x" * 20_001), Invalid, ["the question is longer than 20000"],
                 id="ask-too-much"),
    pytest.param(REPORTED, answer(cid="q9"), Rejected, ["there is no clarification q9"], id="answer-unknown"),
    pytest.param((*REPORTED, ask()), answer("USA"), Forbidden, ["clarification q1 was asked of RUS; you are USA"],
                 id="answer-by-the-asker"),
    pytest.param((*REPORTED, ask(), answer()), answer(text="Again."), Rejected, ["q1 has already been answered"],
                 id="answer-twice"),
    pytest.param((*REPORTED, ask()), answer(text=" "), Invalid, ["the answer must not be empty"], id="answer-nothing"),
]


@pytest.mark.parametrize(("history", "command", "error", "fragments"), CLARIFICATION_RULES)
def test_clarification_rules_are_enforced_with_readable_messages(history, command, error, fragments):
    with pytest.raises(error) as caught:
        decide(given(*history), command)

    for fragment in fragments:
        assert fragment in str(caught.value)


def test_clarification_to_a_third_party_names_all_other_parties_when_misaddressed():
    with pytest.raises(Invalid, match=r"ask one of the other parties \(USA, UKR\), not RUS"):
        decide(given(*THREE), ask("RUS", to="RUS"))


# --- validation ----------------------------------------------------------------------------------

ACCOUNT_PROBLEMS = [
    pytest.param(dict(started_at=T0 - timedelta(hours=1), ended_at=T0 - timedelta(hours=2)),
                 "the incident ends (2025-03-01 10:00) before it starts (2025-03-01 11:00)", id="end-before-start"),
    pytest.param(dict(ended_at=T0 + timedelta(minutes=10)), "the incident cannot end in the future", id="future-end"),
    pytest.param(dict(position=None), "give a position (lat/lon) or a place name", id="no-position-or-place"),
    pytest.param(dict(initiator="FRA"), "the initiator FRA is not one of the parties involved (USA, RUS)",
                 id="initiator-not-a-party"),
    pytest.param(dict(attachments=[Attachment(sha256=DIGEST, media_type="image/png"),
                                   Attachment(sha256=DIGEST, media_type="image/jpeg", name="again")]),
                 "an attachment is listed twice", id="duplicate-attachments"),
]
ACCOUNT_COMMANDS = {
    "report": lambda acct: ((), report(acct=acct)),
    "counter-account": lambda acct: (ACKNOWLEDGED, counter(acct=acct)),
    "amendment": lambda acct: (FILED, amend("USA", acct=acct)),
}


@pytest.mark.parametrize("make", ACCOUNT_COMMANDS.values(), ids=ACCOUNT_COMMANDS.keys())
@pytest.mark.parametrize(("changes", "message"), ACCOUNT_PROBLEMS)
def test_incoherent_account_is_invalid_wherever_it_is_filed(make, changes, message):
    history, command = make(account(**changes))

    with pytest.raises(Invalid) as caught:
        decide(given(*history), command)

    assert message in str(caught.value)


def test_several_account_problems_are_reported_together():
    bad = account(started_at=T0 - timedelta(hours=1), ended_at=T0 - timedelta(hours=2), position=None, initiator="FRA")

    with pytest.raises(Invalid) as caught:
        decide(None, report(acct=bad))

    assert str(caught.value).count("; ") == 2


@pytest.mark.parametrize("changes", [
    pytest.param(dict(ended_at=T0 + timedelta(seconds=299)), id="end-within-clock-skew"),
    pytest.param(dict(position=None, place="Black Sea, 40 nm SW of Sevastopol"), id="place-instead-of-position"),
    pytest.param(dict(initiator="unknown"), id="initiator-unknown"),
    pytest.param(dict(initiator="USA"), id="initiator-is-the-reporter"),
    pytest.param(dict(started_at=T0 - timedelta(hours=2), ended_at=T0 - timedelta(hours=2)), id="instantaneous"),
    pytest.param(dict(attachments=[Attachment(sha256=DIGEST, media_type="image/png"),
                                   Attachment(sha256="cd" * 32, media_type="image/png")]), id="distinct-attachments"),
])
def test_coherent_account_is_accepted(changes):
    assert given(report(acct=account(**changes))).status is Status.REPORTED


def test_initiator_may_be_the_reporter_added_implicitly():
    assert given(report(parties=("RUS",), acct=account(initiator="USA"))).parties == ("USA", "RUS")


@pytest.mark.parametrize("build", [
    pytest.param(lambda: account(position=Position(lat=90.0001, lon=0)), id="latitude-above-90"),
    pytest.param(lambda: account(position=Position(lat=-91, lon=0)), id="latitude-below-minus-90"),
    pytest.param(lambda: account(position=Position(lat=0, lon=180.5)), id="longitude-out-of-range"),
    pytest.param(lambda: account(position=Position(lat=0, lon=0, uncertainty_m=-1)), id="negative-uncertainty"),
    pytest.param(lambda: account(position={"lat": 95, "lon": 0}), id="latitude-out-of-range-as-json"),
    pytest.param(lambda: account(severity=0), id="severity-below-1"),
    pytest.param(lambda: account(severity=6), id="severity-above-5"),
    pytest.param(lambda: account(casualties=-1), id="negative-casualties"),
    pytest.param(lambda: account(started_at=datetime(2025, 3, 1, 9, 0)), id="naive-start"),
    pytest.param(lambda: account(attachments=[Attachment(sha256="XYZ", media_type="image/png")]), id="bad-digest"),
    pytest.param(lambda: account(colour="grey"), id="unknown-field"),
])
def test_malformed_account_fails_at_construction(build):
    with pytest.raises(ValidationError):
        build()


def test_latitude_out_of_range_is_a_validation_error_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        Position(lat=123.0, lon=10.0)

    assert caught.value.errors()[0]["loc"] == ("lat",)
    assert "less than or equal to 90" in str(caught.value)


def test_account_times_are_normalised_to_utc():
    from datetime import timezone

    kyiv = timezone(timedelta(hours=2))
    acct = account(started_at=datetime(2025, 3, 1, 11, 0, tzinfo=kyiv), ended_at=datetime(2025, 3, 1, 12, 0, tzinfo=kyiv))

    assert acct.started_at.utcoffset() == timedelta(0)
    assert acct.started_at == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("parties", [("USA",), (), ("USA", "USA")], ids=["only-reporter", "none", "reporter-twice"])
def test_incident_with_fewer_than_two_parties_is_invalid(parties):
    with pytest.raises(Invalid, match="at least two parties: name the other side"):
        decide(None, report(parties=parties, acct=account(initiator="unknown")))


def test_incident_with_more_than_ten_parties_is_invalid():
    many = tuple(f"P{i:02d}" for i in range(11))

    with pytest.raises(Invalid, match="at most 10 parties"):
        decide(None, report(parties=many, acct=account(initiator="unknown")))


def test_malformed_party_code_in_the_report_is_invalid():
    with pytest.raises(Invalid, match="party code 'rus' must be 2–16 characters"):
        decide(None, report(parties=("USA", "rus")))


def test_malformed_incident_id_is_invalid():
    with pytest.raises(Invalid, match="incident id 'inc 1' must be"):
        decide(None, report(incident_id="inc 1"))


@pytest.mark.parametrize("command", [
    pytest.param(retract(reason=" "), id="retract"),
    pytest.param(amend(reason=""), id="amend"),
    pytest.param(dispute(statement="  "), id="dispute"),
])
def test_blank_free_text_is_invalid(command):
    with pytest.raises(Invalid, match="must not be empty"):
        decide(given(*FILED), command)


@pytest.mark.parametrize(("history", "command", "what"), [
    pytest.param(DISPUTED, review(forum=" "), "the forum must not be empty", id="review-without-forum"),
    pytest.param(DISPUTED, review(forum="x" * 201), "the forum is longer than 200", id="review-forum-too-long"),
    pytest.param(UNDER_REVIEW, resolve(finding=""), "the finding must not be empty", id="resolve-without-finding"),
])
def test_review_and_resolution_need_their_text(history, command, what):
    with pytest.raises(Invalid, match=what):
        decide(given(*history), command)


def test_event_before_the_report_cannot_be_folded():
    with pytest.raises(ValueError, match="IncidentAcknowledged before the incident was reported"):
        evolve(None, e.IncidentAcknowledged(), fact_for(ack(), 1))
