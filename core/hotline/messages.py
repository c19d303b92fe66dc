"""Hotline messages: sent, delivered, acknowledged, answered — three different facts after sending.

Deadlines run from the moment of sending (the sender has done its part then) and come from the
terms version in force at that moment, recorded in `MessageSent`. A deadline that passes is
recorded once, by the scheduler (`RecordDeadlineMissed`); a late acknowledgement or answer is
still recorded, with `late=True`, and stays late. A missed FLASH or IMMEDIATE acknowledgement
escalates to the receiving party's alternate contact in the same append.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from core.agreements.terms import ESCALATING, Precedence
from core.decider import Decider, Fact
from core.errors import Invalid, NotFound, Rejected
from core.events import DomainEvent, register
from core.hotline.channel import Binding, acting, involved, require, require_system, text
from core.identity import Principal, check_id

AGGREGATE = "message"
Deadline = Literal["acknowledgement", "answer"]


# --- events ------------------------------------------------------------------------------------

@register
class MessageSent(DomainEvent):
    TYPE = "parley.hotline.message-sent.v1"
    agreement_id: str
    from_party: str
    to_party: str
    precedence: Precedence
    subject: str
    body: str
    in_reply_to: str | None = None
    answer_required: bool = True
    terms_version: int
    ack_due: datetime
    answer_due: datetime


@register
class MessageDelivered(DomainEvent):
    """The recipient's client has received the message (no human has necessarily seen it)."""

    TYPE = "parley.hotline.message-delivered.v1"


@register
class MessageAcknowledged(DomainEvent):
    """A human on the receiving side has seen the message."""

    TYPE = "parley.hotline.message-acknowledged.v1"
    due: datetime
    late: bool


@register
class MessageAnswered(DomainEvent):
    TYPE = "parley.hotline.message-answered.v1"
    body: str
    due: datetime
    late: bool


@register
class MessageDeadlineMissed(DomainEvent):
    TYPE = "parley.hotline.deadline-missed.v1"
    deadline: Deadline
    due: datetime


@register
class MessageEscalated(DomainEvent):
    """A missed urgent acknowledgement, passed to the receiving party's alternate contact."""

    TYPE = "parley.hotline.message-escalated.v1"
    to_party: str
    contact: str | None
    reason: str


# --- commands ----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class _MessageCommand:
    message_id: str
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class SendMessage(_MessageCommand):
    agreement_id: str
    to_party: str
    precedence: Precedence
    subject: str
    body: str
    in_reply_to: str | None = None
    answer_required: bool = True
    binding: Binding | None = None  # filled by the application


@dataclass(frozen=True, kw_only=True)
class MarkDelivered(_MessageCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class AcknowledgeMessage(_MessageCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class AnswerMessage(_MessageCommand):
    body: str


@dataclass(frozen=True, kw_only=True)
class RecordDeadlineMissed(_MessageCommand):
    deadline: Deadline
    binding: Binding | None = None  # for the escalation contact


Command = SendMessage | MarkDelivered | AcknowledgeMessage | AnswerMessage | RecordDeadlineMissed


# --- state -------------------------------------------------------------------------------------

class Status(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    agreement_id: str
    from_party: str
    to_party: str
    precedence: Precedence
    subject: str
    in_reply_to: str | None = None
    answer_required: bool = True
    sent_at: datetime
    sent_seq: int = 0
    terms_version: int
    ack_due: datetime
    answer_due: datetime
    delivered_at: datetime | None = None
    acknowledged_at: datetime | None = None
    ack_late: bool | None = None
    answered_at: datetime | None = None
    answer_late: bool | None = None
    ack_missed_at: datetime | None = None
    answer_missed_at: datetime | None = None
    escalated_at: datetime | None = None
    escalated_to: str | None = None

    @property
    def status(self) -> Status:
        if self.answered_at is not None:
            return Status.ANSWERED
        if self.acknowledged_at is not None:
            return Status.ACKNOWLEDGED
        if self.delivered_at is not None:
            return Status.DELIVERED
        return Status.SENT


def _when(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def decide(state: Message | None, command: Command) -> list[DomainEvent]:
    if isinstance(command, SendMessage):
        return _send(state, command)
    if state is None:
        raise NotFound(f"message {command.message_id} not found")
    match command:
        case MarkDelivered():
            _recipient(state, command.by)
            return [] if state.delivered_at is not None else [MessageDelivered()]
        case AcknowledgeMessage():
            _recipient(state, command.by)
            if state.acknowledged_at is not None:
                raise Rejected(f"message {state.id} was already acknowledged at {_when(state.acknowledged_at)}")
            return [MessageAcknowledged(due=state.ack_due, late=command.at > state.ack_due)]
        case AnswerMessage():
            _recipient(state, command.by)
            if state.answered_at is not None:
                raise Rejected(f"message {state.id} was already answered at {_when(state.answered_at)}")
            body = text(command.body, what="the answer", limit=20_000)
            return [MessageAnswered(body=body, due=state.answer_due, late=command.at > state.answer_due)]
        case RecordDeadlineMissed():
            require_system(command.by)
            return _missed(state, command)
    raise Invalid(f"unknown message command {type(command).__name__}")


def _send(state: Message | None, command: SendMessage) -> list[DomainEvent]:
    check_id(command.message_id, what="message id")
    if state is not None:
        raise Rejected(f"message {command.message_id} already exists")
    binding = require(command.binding)
    sender = acting(command.by)
    binding.channel(sender, command.to_party)
    if command.in_reply_to is not None:
        check_id(command.in_reply_to, what="in_reply_to")
    try:
        precedence = Precedence(command.precedence)
    except ValueError:
        raise Invalid(f"precedence must be one of {', '.join(p.value for p in Precedence)}") from None
    hotline = binding.terms.terms.hotline
    return [MessageSent(
        agreement_id=binding.agreement_id, from_party=sender, to_party=command.to_party,
        precedence=precedence, subject=text(command.subject, what="the subject", limit=200),
        body=text(command.body, what="the message body", limit=20_000), in_reply_to=command.in_reply_to,
        answer_required=command.answer_required, terms_version=binding.terms.version,
        ack_due=command.at + hotline.acknowledge.of(precedence),
        answer_due=command.at + hotline.answer.of(precedence),
    )]


def _recipient(state: Message, by: Principal) -> None:
    party = involved(by, (state.from_party, state.to_party), what=f"message {state.id}")
    if party != state.to_party:
        raise Rejected(f"only the recipient, {state.to_party}, may do this; you are the sender, {party}")


def _missed(state: Message, command: RecordDeadlineMissed) -> list[DomainEvent]:
    if command.deadline == "acknowledgement":
        due, done, missed = state.ack_due, state.acknowledged_at, state.ack_missed_at
    else:
        due, done, missed = state.answer_due, state.answered_at, state.answer_missed_at
        if not state.answer_required:
            return []
    if command.at < due:
        raise Rejected(f"the {command.deadline} deadline of message {state.id} is {_when(due)}; it has not passed")
    if done is not None or missed is not None:
        return []  # met, or already recorded: a second scheduler changes nothing
    events: list[DomainEvent] = [MessageDeadlineMissed(deadline=command.deadline, due=due)]
    if command.deadline == "acknowledgement" and state.precedence in ESCALATING and state.escalated_at is None:
        contacts = command.binding.contacts.get(state.to_party) if command.binding else None
        contact = (contacts.alternate or contacts.primary) if contacts else None
        events.append(MessageEscalated(
            to_party=state.to_party, contact=contact,
            reason=f"{state.precedence.value} message not acknowledged by {_when(due)}",
        ))
    return events


def evolve(state: Message | None, event: DomainEvent, fact: Fact) -> Message:
    match event:
        case MessageSent():
            return Message(
                id=fact.aggregate_id, agreement_id=event.agreement_id, from_party=event.from_party,
                to_party=event.to_party, precedence=event.precedence, subject=event.subject,
                in_reply_to=event.in_reply_to, answer_required=event.answer_required, sent_at=fact.time, sent_seq=fact.seq,
                terms_version=event.terms_version, ack_due=event.ack_due, answer_due=event.answer_due,
            )
        case MessageDelivered() if state is not None:
            return state.model_copy(update={"delivered_at": state.delivered_at or fact.time})
        case MessageAcknowledged() if state is not None:
            return state.model_copy(update={"acknowledged_at": fact.time, "ack_late": event.late})
        case MessageAnswered() if state is not None:
            return state.model_copy(update={"answered_at": fact.time, "answer_late": event.late})
        case MessageDeadlineMissed() if state is not None:
            key = "ack_missed_at" if event.deadline == "acknowledgement" else "answer_missed_at"
            return state.model_copy(update={key: fact.time})
        case MessageEscalated() if state is not None:
            return state.model_copy(update={"escalated_at": fact.time, "escalated_to": event.contact})
    raise ValueError(f"{type(event).__name__} cannot apply to message state {state!r}")


DECIDER: Decider[Message, Command] = Decider(type=AGGREGATE, decide=decide, evolve=evolve)
