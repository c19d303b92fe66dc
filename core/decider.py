"""The shape every aggregate shares: a decider (`decide`, `evolve`, an initial state).

The application service (`core/service.py`) only knows this shape, so adding an aggregate is
adding a module with a `Decider`, never touching the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Generic, Sequence, TypeVar

from core.events import DomainEvent

S = TypeVar("S")
C = TypeVar("C")


@dataclass(frozen=True, kw_only=True)
class Decider(Generic[S, C]):
    """`decide(state, command) -> events` validates; `evolve(state, event) -> state` folds.

    Both are pure: time and ids arrive inside the command. `initial` is the state of an
    aggregate that has no events yet (usually None).
    """

    type: str
    decide: Callable[[S | None, C], Sequence[DomainEvent]]
    evolve: Callable[[S | None, DomainEvent, "Fact"], S]
    initial: S | None = None

    def fold(self, facts: Sequence[tuple[DomainEvent, "Fact"]]) -> S | None:
        state = self.initial
        for event, fact in facts:
            state = self.evolve(state, event, fact)
        return state


@dataclass(frozen=True, kw_only=True)
class Fact:
    """Envelope facts `evolve` may use besides the payload: who, when, and where in the log."""

    event_id: str
    aggregate_id: str
    party: str
    actor: str
    time: datetime
    seq: int = 0

    @classmethod
    def of(cls, envelope: Any, *, seq: int = 0) -> "Fact":
        return cls(
            event_id=envelope.id,
            aggregate_id=envelope.subject,
            party=envelope.party,
            actor=envelope.actor,
            time=envelope.moment,
            seq=seq,
        )
