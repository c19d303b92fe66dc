"""Scheduled check calls: at each slot every expected party answers within the window, or the
scheduler records it as missed when the window closes. One aggregate per slot (`Slot.id`).

Streaks (current and longest run of misses) are read-model queries over the slots in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from core.decider import Decider, Fact
from core.errors import Invalid, NotFound, Rejected
from core.events import DomainEvent, register
from core.hotline.channel import acting, require_system
from core.hotline.schedule import Slot
from core.identity import Principal

AGGREGATE = "checkcall"


class _SlotFacts(DomainEvent):
    agreement_id: str
    party: str
    slot_start: datetime
    window_end: datetime
    caller: str
    terms_version: int


@register
class CheckCallAnswered(_SlotFacts):
    TYPE = "parley.hotline.check-call-answered.v1"


@register
class CheckCallMissed(_SlotFacts):
    TYPE = "parley.hotline.check-call-missed.v1"


@dataclass(frozen=True, kw_only=True)
class AnswerCheckCall:
    slot: Slot
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordCheckCallMissed:
    """One party's miss, so that each miss has its own deterministic event id."""

    slot: Slot
    party: str
    by: Principal
    at: datetime


Command = AnswerCheckCall | RecordCheckCallMissed


class SlotState(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    agreement_id: str
    slot_start: datetime
    window_end: datetime
    caller: str
    terms_version: int
    answered: dict[str, datetime] = {}
    missed: dict[str, datetime] = {}


def _when(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def decide(state: SlotState | None, command: Command) -> list[DomainEvent]:
    slot = command.slot
    facts = dict(agreement_id=slot.agreement_id, slot_start=slot.start, window_end=slot.window_end,
                  caller=slot.caller, terms_version=slot.terms_version)
    answered = state.answered if state else {}
    missed = state.missed if state else {}
    match command:
        case AnswerCheckCall():
            party = acting(command.by)
            if party not in slot.expected:
                if party == slot.caller:
                    raise Invalid(f"{party} places this check call; the other parties answer it")
                raise NotFound(f"check call {slot.id} not found")
            if command.at < slot.start:
                raise Rejected(f"the check call of {_when(slot.start)} has not started yet")
            if party in answered:
                raise Rejected(f"{party} already answered the check call of {_when(slot.start)}")
            if party in missed or command.at > slot.window_end:
                raise Rejected(
                    f"the answer window of the check call of {_when(slot.start)} closed at"
                    f" {_when(slot.window_end)}; the slot is recorded as missed"
                )
            return [CheckCallAnswered(party=party, **facts)]
        case RecordCheckCallMissed():
            require_system(command.by)
            if command.at < slot.window_end:
                raise Rejected(f"the answer window of {slot.id} is open until {_when(slot.window_end)}")
            if command.party not in slot.expected:
                raise Invalid(f"{command.party} is not expected to answer {slot.id}")
            if command.party in answered or command.party in missed:
                return []
            return [CheckCallMissed(party=command.party, **facts)]
    raise Invalid(f"unknown check-call command {type(command).__name__}")


def evolve(state: SlotState | None, event: DomainEvent, fact: Fact) -> SlotState:
    if not isinstance(event, _SlotFacts):
        raise ValueError(f"{type(event).__name__} cannot apply to a check-call slot")
    if state is None:
        state = SlotState(id=fact.aggregate_id, agreement_id=event.agreement_id, slot_start=event.slot_start,
                          window_end=event.window_end, caller=event.caller, terms_version=event.terms_version)
    if isinstance(event, CheckCallAnswered):
        return state.model_copy(update={"answered": {**state.answered, event.party: fact.time}})
    return state.model_copy(update={"missed": {**state.missed, event.party: fact.time}})


DECIDER: Decider[SlotState, Command] = Decider(type=AGGREGATE, decide=decide, evolve=evolve)
