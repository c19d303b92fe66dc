"""What the application looks up for an inspection command before the pure decider runs.

A reply needs the receiving party's quota use at the reply's time; the application asks its
`QuotaLedger` and puts the snapshot in the command (`quota`), as it puts a `Binding` in a
request. The decider records the snapshot in the reply event, so the decision can be checked
from the event alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Awaitable, Callable

from core.inspections import commands as c
from core.inspections.state import Visit
from core.ports import QuotaLedger


async def with_quota(command: Any, *, ledger: QuotaLedger, visit: Callable[[str], Awaitable[Visit | None]]) -> Any:
    """`command` with its `quota` filled when it is a reply that has none (other commands as is)."""
    if not isinstance(command, (c.AcceptInspection, c.RefuseInspection)) or command.quota is not None:
        return command
    state = await visit(command.inspection_id)
    if state is None:
        return command  # the decider reports it missing
    use = await ledger.quota_use(
        agreement_id=state.agreement_id, kind=state.kind, receiving_party=state.receiving_party,
        requesting_party=state.requesting_party, year=state.quota_year, as_of=command.at, excluding=state.id,
    )
    return replace(command, quota=use)
