"""Requests for explanation (Vienna Document Chapter III): requested → replied within the deadline,
or no reply → the requester asks for a meeting → the meeting is held within its own deadline.

Both deadlines come from the terms in force when the explanation was requested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from core.decider import Decider, Fact
from core.errors import Invalid, NotFound, Rejected
from core.events import DomainEvent, register
from core.hotline.channel import Binding, acting, involved, require, require_system, text
from core.identity import Principal, check_id

AGGREGATE = "explanation"


@register
class ExplanationRequested(DomainEvent):
    TYPE = "parley.hotline.explanation-requested.v1"
    agreement_id: str
    from_party: str
    to_party: str
    subject: str
    question: str
    incident_id: str | None = None
    terms_version: int
    reply_due: datetime
    meeting_within: timedelta


@register
class ExplanationReplied(DomainEvent):
    TYPE = "parley.hotline.explanation-replied.v1"
    text: str
    late: bool


@register
class ExplanationNotReplied(DomainEvent):
    TYPE = "parley.hotline.explanation-not-replied.v1"
    due: datetime


@register
class MeetingRequested(DomainEvent):
    TYPE = "parley.hotline.meeting-requested.v1"
    meeting_due: datetime


@register
class MeetingHeld(DomainEvent):
    TYPE = "parley.hotline.meeting-held.v1"
    note: str = ""
    late: bool


@register
class MeetingDeadlineMissed(DomainEvent):
    TYPE = "parley.hotline.meeting-deadline-missed.v1"
    due: datetime


@dataclass(frozen=True, kw_only=True)
class _ExplanationCommand:
    request_id: str
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RequestExplanation(_ExplanationCommand):
    agreement_id: str
    to_party: str
    subject: str
    question: str
    incident_id: str | None = None
    binding: Binding | None = None


@dataclass(frozen=True, kw_only=True)
class ReplyExplanation(_ExplanationCommand):
    text: str


@dataclass(frozen=True, kw_only=True)
class RecordNoReply(_ExplanationCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class RequestMeeting(_ExplanationCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class RecordMeetingHeld(_ExplanationCommand):
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class RecordMeetingMissed(_ExplanationCommand):
    pass


Command = RequestExplanation | ReplyExplanation | RecordNoReply | RequestMeeting | RecordMeetingHeld | RecordMeetingMissed


class Status(StrEnum):
    REQUESTED = "requested"
    REPLIED = "replied"
    NO_REPLY = "no_reply"
    MEETING_REQUESTED = "meeting_requested"
    MEETING_HELD = "meeting_held"


class Explanation(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    agreement_id: str
    from_party: str
    to_party: str
    subject: str
    incident_id: str | None = None
    terms_version: int
    requested_at: datetime
    reply_due: datetime
    meeting_within: timedelta
    status: Status = Status.REQUESTED
    replied_at: datetime | None = None
    reply_late: bool | None = None
    no_reply_at: datetime | None = None
    meeting_requested_at: datetime | None = None
    meeting_due: datetime | None = None
    meeting_held_at: datetime | None = None
    meeting_late: bool | None = None
    meeting_missed_at: datetime | None = None


def decide(state: Explanation | None, command: Command) -> list[DomainEvent]:
    if isinstance(command, RequestExplanation):
        check_id(command.request_id, what="request id")
        if state is not None:
            raise Rejected(f"explanation request {command.request_id} already exists")
        binding = require(command.binding)
        sender = acting(command.by)
        binding.channel(sender, command.to_party)
        hotline = binding.terms.terms.hotline
        return [ExplanationRequested(
            agreement_id=binding.agreement_id, from_party=sender, to_party=command.to_party,
            subject=text(command.subject, what="the subject", limit=200),
            question=text(command.question, what="the question", limit=20_000),
            incident_id=None if command.incident_id is None else check_id(command.incident_id, what="incident id"),
            terms_version=binding.terms.version, reply_due=command.at + hotline.explanation_reply,
            meeting_within=hotline.meeting_after_failed_explanation,
        )]
    if state is None:
        raise NotFound(f"explanation request {command.request_id} not found")
    what = f"explanation request {state.id}"
    match command:
        case ReplyExplanation():
            if involved(command.by, (state.from_party, state.to_party), what=what) != state.to_party:
                raise Rejected(f"only {state.to_party}, the party asked, may reply")
            if state.replied_at is not None:
                raise Rejected(f"{what} was already replied to")
            return [ExplanationReplied(text=text(command.text, what="the reply", limit=20_000),
                                       late=command.at > state.reply_due)]
        case RecordNoReply():
            require_system(command.by)
            if command.at < state.reply_due:
                raise Rejected(f"the reply to {what} is due {state.reply_due.isoformat()}")
            return [ExplanationNotReplied(due=state.reply_due)] if state.status is Status.REQUESTED else []
        case RequestMeeting():
            if involved(command.by, (state.from_party, state.to_party), what=what) != state.from_party:
                raise Rejected(f"only {state.from_party}, the requesting party, may ask for a meeting")
            if state.status is not Status.NO_REPLY:
                raise Rejected(f"a meeting follows an unanswered request; {what} is {state.status.value}")
            return [MeetingRequested(meeting_due=command.at + state.meeting_within)]
        case RecordMeetingHeld():
            involved(command.by, (state.from_party, state.to_party), what=what)
            if state.status is not Status.MEETING_REQUESTED or state.meeting_due is None:
                raise Rejected(f"no meeting has been requested for {what}")
            return [MeetingHeld(note=command.note.strip()[:2000], late=command.at > state.meeting_due)]
        case RecordMeetingMissed():
            require_system(command.by)
            if state.meeting_due is None or command.at < state.meeting_due:
                raise Rejected(f"the meeting for {what} is not due yet")
            if state.status is not Status.MEETING_REQUESTED or state.meeting_missed_at is not None:
                return []
            return [MeetingDeadlineMissed(due=state.meeting_due)]
    raise Invalid(f"unknown explanation command {type(command).__name__}")


def evolve(state: Explanation | None, event: DomainEvent, fact: Fact) -> Explanation:
    match event:
        case ExplanationRequested():
            return Explanation(
                id=fact.aggregate_id, agreement_id=event.agreement_id, from_party=event.from_party,
                to_party=event.to_party, subject=event.subject, incident_id=event.incident_id,
                terms_version=event.terms_version, requested_at=fact.time, reply_due=event.reply_due,
                meeting_within=event.meeting_within,
            )
        case ExplanationReplied() if state is not None:
            return state.model_copy(update={"status": Status.REPLIED, "replied_at": fact.time, "reply_late": event.late})
        case ExplanationNotReplied() if state is not None:
            return state.model_copy(update={"status": Status.NO_REPLY, "no_reply_at": fact.time})
        case MeetingRequested() if state is not None:
            return state.model_copy(update={"status": Status.MEETING_REQUESTED, "meeting_requested_at": fact.time,
                                            "meeting_due": event.meeting_due})
        case MeetingHeld() if state is not None:
            return state.model_copy(update={"status": Status.MEETING_HELD, "meeting_held_at": fact.time,
                                            "meeting_late": event.late})
        case MeetingDeadlineMissed() if state is not None:
            return state.model_copy(update={"meeting_missed_at": fact.time})
    raise ValueError(f"{type(event).__name__} cannot apply to explanation request {state!r}")


DECIDER: Decider[Explanation, Command] = Decider(type=AGGREGATE, decide=decide, evolve=evolve)
