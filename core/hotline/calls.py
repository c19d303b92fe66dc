"""Call requests (Defense Telephone Link style): requested → accepted | declined | no response at
the deadline; an accepted (or unanswered, later arranged) call is then held.

A late acceptance or refusal is still recorded, marked late; the no-response fact stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from core.decider import Decider, Fact
from core.errors import Invalid, NotFound, Rejected
from core.events import DomainEvent, register
from core.hotline.channel import Binding, acting, involved, require, require_system, text
from core.identity import Principal, check_id

AGGREGATE = "callrequest"


@register
class CallRequested(DomainEvent):
    TYPE = "parley.hotline.call-requested.v1"
    agreement_id: str
    from_party: str
    to_party: str
    purpose: str
    terms_version: int
    respond_due: datetime


@register
class CallAccepted(DomainEvent):
    TYPE = "parley.hotline.call-accepted.v1"
    scheduled_for: datetime | None = None
    late: bool


@register
class CallDeclined(DomainEvent):
    TYPE = "parley.hotline.call-declined.v1"
    reason: str
    late: bool


@register
class CallNoResponse(DomainEvent):
    TYPE = "parley.hotline.call-no-response.v1"
    due: datetime


@register
class CallHeld(DomainEvent):
    TYPE = "parley.hotline.call-held.v1"
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class _CallCommand:
    request_id: str
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RequestCall(_CallCommand):
    agreement_id: str
    to_party: str
    purpose: str
    binding: Binding | None = None


@dataclass(frozen=True, kw_only=True)
class AcceptCall(_CallCommand):
    scheduled_for: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class DeclineCall(_CallCommand):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordNoResponse(_CallCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class RecordCallHeld(_CallCommand):
    note: str = ""


Command = RequestCall | AcceptCall | DeclineCall | RecordNoResponse | RecordCallHeld


class Status(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    NO_RESPONSE = "no_response"
    HELD = "held"


class CallRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    agreement_id: str
    from_party: str
    to_party: str
    terms_version: int
    requested_at: datetime
    respond_due: datetime
    status: Status = Status.REQUESTED
    responded_at: datetime | None = None
    response_late: bool | None = None
    no_response_at: datetime | None = None
    held_at: datetime | None = None


def decide(state: CallRequest | None, command: Command) -> list[DomainEvent]:
    if isinstance(command, RequestCall):
        check_id(command.request_id, what="request id")
        if state is not None:
            raise Rejected(f"call request {command.request_id} already exists")
        binding = require(command.binding)
        sender = acting(command.by)
        binding.channel(sender, command.to_party)
        return [CallRequested(
            agreement_id=binding.agreement_id, from_party=sender, to_party=command.to_party,
            purpose=text(command.purpose, what="the purpose", limit=2000), terms_version=binding.terms.version,
            respond_due=command.at + binding.terms.terms.hotline.call_request_response,
        )]
    if state is None:
        raise NotFound(f"call request {command.request_id} not found")
    late = command.at > state.respond_due
    match command:
        case AcceptCall() | DeclineCall():
            party = involved(command.by, (state.from_party, state.to_party), what=f"call request {state.id}")
            if party != state.to_party:
                raise Rejected(f"only {state.to_party}, the party asked, may answer this call request")
            if state.status not in (Status.REQUESTED, Status.NO_RESPONSE):
                raise Rejected(f"call request {state.id} is already {state.status.value}")
            if isinstance(command, AcceptCall):
                return [CallAccepted(scheduled_for=command.scheduled_for, late=late)]
            return [CallDeclined(reason=text(command.reason, what="the reason", limit=2000), late=late)]
        case RecordNoResponse():
            require_system(command.by)
            if not late and command.at != state.respond_due:
                raise Rejected(f"call request {state.id} may be answered until {state.respond_due.isoformat()}")
            return [CallNoResponse(due=state.respond_due)] if state.status is Status.REQUESTED else []
        case RecordCallHeld():
            involved(command.by, (state.from_party, state.to_party), what=f"call request {state.id}")
            if state.status not in (Status.ACCEPTED, Status.NO_RESPONSE):
                raise Rejected(f"a call can be held once accepted (or arranged after no response); this one is {state.status.value}")
            return [CallHeld(note=command.note.strip()[:2000])]
    raise Invalid(f"unknown call-request command {type(command).__name__}")


def evolve(state: CallRequest | None, event: DomainEvent, fact: Fact) -> CallRequest:
    match event:
        case CallRequested():
            return CallRequest(id=fact.aggregate_id, agreement_id=event.agreement_id, from_party=event.from_party,
                               to_party=event.to_party, terms_version=event.terms_version,
                               requested_at=fact.time, respond_due=event.respond_due)
        case CallAccepted() | CallDeclined() if state is not None:
            status = Status.ACCEPTED if isinstance(event, CallAccepted) else Status.DECLINED
            return state.model_copy(update={"status": status, "responded_at": fact.time, "response_late": event.late})
        case CallNoResponse() if state is not None:
            return state.model_copy(update={"status": Status.NO_RESPONSE, "no_response_at": fact.time})
        case CallHeld() if state is not None:
            return state.model_copy(update={"status": Status.HELD, "held_at": fact.time})
    raise ValueError(f"{type(event).__name__} cannot apply to call request {state!r}")


DECIDER: Decider[CallRequest, Command] = Decider(type=AGGREGATE, decide=decide, evolve=evolve)
