"""Parties (states, armed forces, agencies) and their officers, as one aggregate per party.

A party is registered once by an admin; officers are registered into it. Officers are events of
the party's aggregate so that "is this officer of that party" has one authoritative answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from core.decider import Decider, Fact
from core.errors import Invalid, Rejected
from core.events import DomainEvent, register
from core.identity import Principal, Role, check_id, check_party_code

AGGREGATE = "party"


# --- events ------------------------------------------------------------------------------------

@register
class PartyRegistered(DomainEvent):
    TYPE = "parley.party.registered.v1"
    code: str
    name: str


@register
class OfficerRegistered(DomainEvent):
    TYPE = "parley.party.officer-registered.v1"
    officer_id: str
    name: str


# --- commands ----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RegisterParty:
    code: str
    name: str
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RegisterOfficer:
    party: str
    officer_id: str
    name: str
    by: Principal
    at: datetime


Command = RegisterParty | RegisterOfficer


# --- state -------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Party:
    code: str
    name: str
    registered_at: datetime
    officers: dict[str, str] = field(default_factory=dict)  # officer id -> name


def _name(value: str, *, what: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= 200:
        raise Invalid(f"{what} must be 1–200 characters")
    return value


def decide(state: Party | None, command: Command) -> list[DomainEvent]:
    command.by.require(Role.ADMIN)
    match command:
        case RegisterParty():
            code = check_party_code(command.code)
            if state is not None:
                raise Rejected(f"party {code} is already registered (as {state.name!r})")
            return [PartyRegistered(code=code, name=_name(command.name, what="party name"))]
        case RegisterOfficer():
            if state is None:
                raise Rejected(f"party {command.party} is not registered; register it first")
            officer_id = check_id(command.officer_id, what="officer id")
            if officer_id in state.officers:
                raise Rejected(f"officer {officer_id} is already registered with {state.code}")
            return [OfficerRegistered(officer_id=officer_id, name=_name(command.name, what="officer name"))]
    raise Invalid(f"unknown party command {type(command).__name__}")


def evolve(state: Party | None, event: DomainEvent, fact: Fact) -> Party:
    match event:
        case PartyRegistered():
            return Party(code=event.code, name=event.name, registered_at=fact.time)
        case OfficerRegistered() if state is not None:
            return replace(state, officers={**state.officers, event.officer_id: event.name})
    raise ValueError(f"{type(event).__name__} cannot apply to party state {state!r}")


DECIDER: Decider[Party, Command] = Decider(type=AGGREGATE, decide=decide, evolve=evolve)
