"""Typed domain events and the registry that maps CloudEvents `type` strings to them.

A domain event is a frozen pydantic model: its fields are the envelope's `data`. The registry
also holds **upcasters**: functions that turn an older `(type, schemaversion)` payload into the
current one, so events are never rewritten on the stream and old history stays readable.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from core.envelope import Event


class DomainEvent(BaseModel):
    """Base of every event payload. Subclasses set `TYPE` (e.g. `parley.incident.reported.v1`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    def payload(self) -> dict[str, Any]:
        """The JSON-compatible `data` of the envelope."""
        return self.model_dump(mode="json")


E = TypeVar("E", bound=type[DomainEvent])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_TYPES: dict[str, type[DomainEvent]] = {}
_UPCASTERS: dict[tuple[str, int], tuple[str, int, Upcaster]] = {}


def register(cls: E) -> E:
    """Class decorator: make `cls` parseable from envelopes of type `cls.TYPE`."""
    if cls.TYPE in _TYPES and _TYPES[cls.TYPE] is not cls:
        raise ValueError(f"event type {cls.TYPE} registered twice")
    _TYPES[cls.TYPE] = cls
    return cls


def register_upcaster(
    *, from_type: str, from_version: int, to_type: str, to_version: int, upcast: Upcaster
) -> None:
    """Declare how a stored payload of an old type/version becomes the next one."""
    _UPCASTERS[(from_type, from_version)] = (to_type, to_version, upcast)


def upcast(event_type: str, version: int, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Apply upcasters until the payload reaches a registered current type."""
    seen = 0
    while (event_type, version) in _UPCASTERS:
        event_type, version, step = _UPCASTERS[(event_type, version)]
        data = step(dict(data))
        seen += 1
        if seen > 64:
            raise ValueError(f"upcaster cycle at {event_type} v{version}")
    return event_type, data


def decode(event: Event) -> DomainEvent:
    """The typed domain event held in an envelope (after upcasting)."""
    event_type, data = upcast(event.type, event.schemaversion, dict(event.data))
    cls = _TYPES.get(event_type)
    if cls is None:
        raise ValueError(f"unknown event type {event.type!r} (seq of {event.subject})")
    return cls.model_validate(data)


def known_types() -> dict[str, type[DomainEvent]]:
    return dict(_TYPES)
