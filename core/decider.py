"""The shape every aggregate shares: a decider (`decide`, `evolve`, an initial state).

The application service (`core/service.py`) only knows this shape, so adding an aggregate is
adding a module with a `Decider`, never touching the service.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Callable, Generic, Sequence, TypeVar

from core.events import DomainEvent

S = TypeVar("S")
C = TypeVar("C")
R = TypeVar("R")


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


_FIELDS: dict[type, frozenset[str]] = {}


def evolved(record: R, **changes: Any) -> R:
    """`dataclasses.replace(record, **changes)` for the plain frozen records that `evolve`
    functions fold, without re-running `__init__`.

    A projection folds every event of the log through `evolve`; `replace` (which rebuilds the
    keyword arguments and calls the generated `__init__`) was the largest single cost of
    folding an incident (~7 % of a rebuild). Only for records without `__post_init__` or
    `__slots__`; an unknown field name still raises `TypeError`, as `replace` does."""
    cls = type(record)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in fields(cls))  # type: ignore[arg-type]
    if not names.issuperset(changes):
        raise TypeError(f"{cls.__name__} has no field {sorted(set(changes) - names)[0]!r}")
    copy = object.__new__(cls)
    copy.__dict__.update(record.__dict__)
    copy.__dict__.update(changes)
    return copy
