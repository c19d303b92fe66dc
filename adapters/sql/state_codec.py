"""The incident state as JSON, so the projector can resume folding where it left off.

`incidents.state` holds `core.incidents.state.Incident` exactly: reading it back gives an equal
dataclass with the same types (tuples stay tuples, enums stay enums, datetimes are aware UTC
with `datetime.UTC`). Pydantic does the walking; `_utc` only swaps pydantic's own UTC tzinfo
for the standard one so restored states are indistinguishable from folded ones.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter

from core.incidents.state import Incident

_INCIDENT = TypeAdapter(Incident)


def incident_state_to_json(state: Incident) -> dict[str, Any]:
    """A JSON-compatible dict (datetimes as RFC 3339 strings) for the `state` column."""
    return _INCIDENT.dump_python(state, mode="json")


def incident_state_from_json(data: dict[str, Any]) -> Incident:
    """The `Incident` that `incident_state_to_json` wrote."""
    return _utc(_INCIDENT.validate_python(data))


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo is UTC else value.astimezone(UTC)
    if isinstance(value, BaseModel):  # pydantic models (accounts) normalise their own times
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for item in dataclasses.fields(value):
            current = getattr(value, item.name)
            fixed = _utc(current)
            if fixed is not current:
                changes[item.name] = fixed
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, dict):
        fixed_items = {k: _utc(v) for k, v in value.items()}
        return value if all(fixed_items[k] is v for k, v in value.items()) else fixed_items
    if isinstance(value, tuple):
        fixed_tuple = tuple(_utc(v) for v in value)
        return value if all(a is b for a, b in zip(fixed_tuple, value)) else fixed_tuple
    return value
