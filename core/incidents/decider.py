"""The incident decider: which transitions are allowed, by whom, and what they record.

Lifecycle: reported → acknowledged → counter-account filed → reconciled | disputed →
under review → resolved; the reporter may retract before resolution; accounts may be amended
(a new version, the old one stays in the log) until the accounts are reconciled or reviewed;
clarifications can be asked and answered at any open stage. No account ever overwrites another
party's: each party only files or amends its own.
"""

from __future__ import annotations

from typing import Any

from core.decider import Decider, Fact, evolved
from core.errors import Forbidden, Invalid, NotFound, Rejected
from core.events import DomainEvent
from core.identity import check_id, check_party_code
from core.incidents import commands as c
from core.incidents import events as e
from core.incidents.accounts import COMPARABLE_FIELDS, Account
from core.incidents.state import TERMINAL, AccountRecord, Clarification, Incident, Status

MAX_PARTIES = 10
MAX_TEXT = 20_000


def _text(value: str, *, what: str, limit: int = MAX_TEXT) -> str:
    value = value.strip()
    if not value:
        raise Invalid(f"{what} must not be empty")
    if len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return value


def _check_account(account: Account, *, parties: tuple[str, ...], command: c._IncidentCommand) -> None:
    problems = account.problems(parties=parties, now=command.at)
    if problems:
        raise Invalid("; ".join(problems))


def _fields(names: tuple[str, ...]) -> list[str]:
    unknown = sorted(set(names) - COMPARABLE_FIELDS)
    if unknown:
        raise Invalid(f"unknown field(s) {', '.join(unknown)}; use {', '.join(sorted(COMPARABLE_FIELDS))}")
    return sorted(set(names))


def _report(command: c.ReportIncident) -> list[DomainEvent]:
    reporter = command.by.acting_party()
    parties = tuple(dict.fromkeys(check_party_code(p) for p in command.parties))
    if reporter not in parties:
        parties = (reporter, *parties)
    if len(parties) < 2:
        raise Invalid("an incident involves at least two parties: name the other side")
    if len(parties) > MAX_PARTIES:
        raise Invalid(f"an incident involves at most {MAX_PARTIES} parties")
    _check_account(command.account, parties=parties, command=command)
    return [e.IncidentReported(parties=list(parties), account=command.account)]


def decide(state: Incident | None, command: c.Command) -> list[DomainEvent]:
    """Validate `command` against the incident; return the one event it causes, or raise."""
    check_id(command.incident_id, what="incident id")
    if isinstance(command, c.ReportIncident):
        if state is not None:
            raise Rejected(f"incident {command.incident_id} already exists")
        return _report(command)
    if state is None:
        raise NotFound(f"incident {command.incident_id} has not been reported")
    party = command.by.acting_party()
    if party not in state.parties:
        raise Forbidden(
            f"only the parties involved ({', '.join(state.parties)}) may act on this incident;"
            f" you are {party}"
        )
    if state.status in TERMINAL:
        raise Rejected(f"the incident is {state.status.value}; nothing more can be recorded on it")
    return [_decide_open(state, command, party)]


def _decide_open(state: Incident, command: c.Command, party: str) -> DomainEvent:  # noqa: C901
    match command:
        case c.AcknowledgeIncident():
            if party == state.reporter:
                raise Rejected(f"{party} reported this incident; the acknowledgement must come from the other side")
            if party in state.acknowledged:
                raise Rejected(f"{party} has already acknowledged this incident")
            return e.IncidentAcknowledged()
        case c.FileCounterAccount():
            if party in state.accounts:
                raise Rejected(f"{party} has already filed its account; amend it instead")
            if party not in state.acknowledged:
                raise Rejected(f"{party} must acknowledge the incident before filing its own account")
            _open_for_accounts(state)
            _check_account(command.account, parties=state.parties, command=command)
            return e.CounterAccountFiled(account=command.account)
        case c.AmendAccount():
            if party not in state.accounts:
                raise Rejected(f"{party} has no account on this incident to amend")
            _open_for_accounts(state)
            _check_account(command.account, parties=state.parties, command=command)
            return e.AccountAmended(account=command.account, reason=_text(command.reason, what="the reason"))
        case c.RetractIncident():
            if party != state.reporter:
                raise Forbidden(f"only the reporting party, {state.reporter}, may retract the incident")
            return e.IncidentRetracted(reason=_text(command.reason, what="the reason"))
        case c.RequestClarification():
            cid = check_id(command.clarification_id, what="clarification id")
            if cid in state.clarifications:
                raise Rejected(f"clarification {cid} already exists")
            if command.to_party == party or command.to_party not in state.parties:
                others = [p for p in state.parties if p != party]
                raise Invalid(f"ask one of the other parties ({', '.join(others)}), not {command.to_party}")
            return e.ClarificationRequested(
                clarification_id=cid, to_party=command.to_party,
                question=_text(command.question, what="the question"),
            )
        case c.ProvideClarification():
            found = state.clarifications.get(command.clarification_id)
            if found is None:
                raise Rejected(f"there is no clarification {command.clarification_id} on this incident")
            if found.to_party != party:
                raise Forbidden(f"clarification {found.id} was asked of {found.to_party}; you are {party}")
            if found.answer is not None:
                raise Rejected(f"clarification {found.id} has already been answered")
            return e.ClarificationProvided(clarification_id=found.id, answer=_text(command.answer, what="the answer"))
        case c.AgreeReconciliation():
            _require(state, Status.COUNTER_ACCOUNT_FILED, "reconcile")
            if party not in state.accounts:
                raise Rejected(f"{party} has not filed an account; only account holders reconcile")
            if party in state.reconciliation:
                raise Rejected(f"{party} has already agreed to the reconciliation")
            return e.ReconciliationAgreed(agreed_fields=_fields(command.agreed_fields), note=command.note.strip())
        case c.DisputeIncident():
            _require(state, Status.COUNTER_ACCOUNT_FILED, "dispute")
            return e.IncidentDisputed(
                disputed_fields=_fields(command.disputed_fields) or sorted(COMPARABLE_FIELDS),
                statement=_text(command.statement, what="the statement"),
            )
        case c.ReferToReview():
            _require(state, Status.DISPUTED, "refer to review")
            return e.IncidentReferredToReview(forum=_text(command.forum, what="the forum", limit=200))
        case c.ResolveIncident():
            _require(state, Status.UNDER_REVIEW, "resolve")
            return e.IncidentResolved(finding=_text(command.finding, what="the finding"))
    raise Invalid(f"unknown incident command {type(command).__name__}")


def _require(state: Incident, status: Status, action: str) -> None:
    if state.status is not status:
        raise Rejected(
            f"cannot {action} an incident that is {state.status.value.replace('_', ' ')};"
            f" it must be {status.value.replace('_', ' ')}"
        )


def _open_for_accounts(state: Incident) -> None:
    if state.status in (Status.RECONCILED, Status.UNDER_REVIEW):
        raise Rejected(f"the accounts are {state.status.value.replace('_', ' ')}; they can no longer change")


def evolve(state: Incident | None, event: DomainEvent, fact: Fact) -> Incident:
    """Fold one event into the incident. Never raises for events `decide` produced."""
    if isinstance(event, e.IncidentReported):
        record = AccountRecord(party=fact.party, account=event.account, filed_at=fact.time)
        return Incident(
            id=fact.aggregate_id, reporter=fact.party, parties=tuple(event.parties), status=Status.REPORTED,
            reported_at=fact.time, accounts={fact.party: record}, updated_at=fact.time,
        )
    if state is None:
        raise ValueError(f"{type(event).__name__} before the incident was reported")
    return evolved(state, updated_at=fact.time, **_changes(state, event, fact))


def _changes(state: Incident, event: DomainEvent, fact: Fact) -> dict[str, Any]:
    """The fields one event changes (besides `updated_at`): one copy of the state per event."""
    match event:
        case e.IncidentAcknowledged():
            status = Status.ACKNOWLEDGED if state.status is Status.REPORTED else state.status
            return {"status": status, "acknowledged": {**state.acknowledged, fact.party: fact.time}}
        case e.CounterAccountFiled():
            record = AccountRecord(party=fact.party, account=event.account, filed_at=fact.time)
            status = Status.COUNTER_ACCOUNT_FILED if state.status is Status.ACKNOWLEDGED else state.status
            return {"status": status, "accounts": {**state.accounts, fact.party: record}, "reconciliation": {}}
        case e.AccountAmended():
            old = state.accounts[fact.party]
            new = evolved(old, account=event.account, version=old.version + 1,
                          amended_at=fact.time, amendment_reason=event.reason)
            return {"accounts": {**state.accounts, fact.party: new}, "reconciliation": {}}
        case e.IncidentRetracted():
            return {"status": Status.RETRACTED, "retraction_reason": event.reason}
        case e.ClarificationRequested():
            item = Clarification(id=event.clarification_id, from_party=fact.party, to_party=event.to_party,
                                 question=event.question, asked_at=fact.time)
            return {"clarifications": {**state.clarifications, item.id: item}}
        case e.ClarificationProvided():
            item = evolved(state.clarifications[event.clarification_id], answer=event.answer, answered_at=fact.time)
            return {"clarifications": {**state.clarifications, item.id: item}}
        case e.ReconciliationAgreed():
            agreed = {**state.reconciliation, fact.party: tuple(event.agreed_fields)}
            done = set(agreed) >= set(state.accounts)
            return {"reconciliation": agreed, "status": Status.RECONCILED if done else state.status}
        case e.IncidentDisputed():
            return {"status": Status.DISPUTED, "disputed_by": fact.party,
                    "disputed_fields": tuple(event.disputed_fields), "dispute_statement": event.statement}
        case e.IncidentReferredToReview():
            return {"status": Status.UNDER_REVIEW, "review_forum": event.forum}
        case e.IncidentResolved():
            return {"status": Status.RESOLVED, "finding": event.finding}
    raise ValueError(f"{type(event).__name__} is not an incident event")


DECIDER: Decider[Incident, c.Command] = Decider(type=e.AGGREGATE, decide=decide, evolve=evolve)
