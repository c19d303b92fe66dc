"""Visibility of dyad records (hotline traffic, inspections) for actions on them.

Every `POST /<records>/{id}/<verb>` depends on `on_record`: the caller's role first (403), then
whether its party is one end of the record (else the 404 of a missing record) — decided before
the body is validated, so a third party cannot tell an existing record from a missing one by
what its bodies provoke. Reads filter by party in SQL instead (see adapters/sql/*_queries.py).
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import Depends, Path, Request

from adapters.http.auth import Hidden
from core.decider import Decider
from core.identity import Principal

Ends = Callable[[Any], tuple[str, ...]]


def channel_ends(state: Any) -> tuple[str, ...]:
    return (state.from_party, state.to_party)


def on_record(decider: Decider[Any, Any], param: str, *, caller: Any, ends: Ends = channel_ends):  # noqa: ANN201
    """A dependency returning `(record_id, principal)`; `caller` is the role dependency."""

    async def check(request: Request, record_id: str = Path(alias=param, max_length=64),
                    who: Principal = Depends(caller)) -> tuple[str, Principal]:
        handler = request.app.state.runtime.app.handler
        state = (await handler.load(decider, record_id)).state
        if state is None:  # a cached "missing" may be stale: another process may have created it
            state = (await handler.load(decider, record_id, fresh=True)).state
        if state is not None and who.party not in ends(state):
            raise Hidden(f"{decider.type} {record_id} not found",
                         why=f"{who.party} is not a party to {decider.type} {record_id}")
        return record_id, who

    return check
