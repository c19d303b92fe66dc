"""The deadline scheduler: records each missed deadline exactly once.

Each tick asks `DueWork` (the read models) what is overdue at the clock's `now`, and sends the
matching system command. Two schedulers may run at once (e.g. in two `parley up` processes):
every command carries **deterministic event ids** derived from what it records, so the second
append of the same fact is dropped by JetStream's duplicate window (`Nats-Msg-Id`), and after
that window the decider, run on fresh state under OCC, finds the miss already recorded and
emits nothing. The fact's business time is the deadline itself, not the moment the scheduler
noticed, so whichever scheduler wins writes the same event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.application import Application
from core.errors import Conflict, NotFound, Rejected
from core.hotline import calls, check_calls, explanations, messages
from core.hotline.schedule import slots
from core.identity import SYSTEM
from core.inspections.commands import RecordInspectionDeadlineMissed
from core.inspections.decider import DECIDER as INSPECTIONS
from core.inspections.state import Visit
from core.ports import Clock, DueWork

#: Namespace of the scheduler's deterministic event ids (UUIDv5).
NAMESPACE = uuid.UUID("6f1c4a52-3f0e-4c1e-9a55-0d6f3b8e2a10")
#: How far back a fresh scheduler looks for unrecorded check-call slots.
CHECK_CALL_LOOKBACK = timedelta(days=400)


def event_ids(key: str, count: int = 2) -> tuple[str, ...]:
    """Ids of the events a system command records about `key` (same key → same ids)."""
    return tuple(str(uuid.uuid5(NAMESPACE, f"{key}#{index}")) for index in range(count))


@dataclass(kw_only=True)
class TickReport:
    recorded: list[str] = field(default_factory=list)  # event types appended
    skipped: int = 0  # commands that found nothing to record (already met or recorded)
    errors: list[str] = field(default_factory=list)


class Scheduler:
    def __init__(self, *, app: Application, due: DueWork, clock: Clock) -> None:
        self._app = app
        self._due = due
        self._clock = clock
        self._slots_done_until: dict[str, datetime] = {}

    async def tick(self) -> TickReport:
        now = self._clock.now()
        report = TickReport()
        for message_id, deadline in await self._due.overdue_messages(now=now):
            state: messages.Message | None = await self._app.state_of(messages.DECIDER, message_id)
            if state is None:
                continue
            due = state.ack_due if deadline == "acknowledgement" else state.answer_due
            await self._send(report, messages.RecordDeadlineMissed(
                message_id=message_id, deadline=deadline, by=SYSTEM, at=due,  # type: ignore[arg-type]
            ), key=f"message/{message_id}/{deadline}-missed")
        for request_id in await self._due.overdue_call_requests(now=now):
            call: calls.CallRequest | None = await self._app.state_of(calls.DECIDER, request_id)
            if call is not None:
                await self._send(report, calls.RecordNoResponse(request_id=request_id, by=SYSTEM, at=call.respond_due),
                                 key=f"callrequest/{request_id}/no-response")
        for request_id, what in await self._due.overdue_explanations(now=now):
            asked: explanations.Explanation | None = await self._app.state_of(explanations.DECIDER, request_id)
            if asked is None:
                continue
            if what == "reply":
                command: Any = explanations.RecordNoReply(request_id=request_id, by=SYSTEM, at=asked.reply_due)
            elif asked.meeting_due is not None:
                command = explanations.RecordMeetingMissed(request_id=request_id, by=SYSTEM, at=asked.meeting_due)
            else:
                continue
            await self._send(report, command, key=f"explanation/{request_id}/{what}-missed")
        for agreement_id in await self._due.agreement_ids():
            await self._check_calls(report, agreement_id, now=now)
        await self._inspections(report, now=now)
        return report

    async def _inspections(self, report: TickReport, *, now: datetime) -> None:
        """Inspection clocks (notice, reply, entry, flight plan, duration, reasons): each miss is
        recorded at its due time, so any scheduler writes the same event."""
        for inspection_id, deadline in await self._due.overdue_inspections(now=now):
            visit: Visit | None = await self._app.state_of(INSPECTIONS, inspection_id)
            due = visit.due(deadline) if visit is not None else None  # type: ignore[arg-type]
            if due is not None:
                await self._send(report, RecordInspectionDeadlineMissed(
                    inspection_id=inspection_id, deadline=deadline, by=SYSTEM, at=due,  # type: ignore[arg-type]
                ), key=f"inspection/{inspection_id}/{deadline}-missed")

    async def _check_calls(self, report: TickReport, agreement_id: str, *, now: datetime) -> None:
        try:
            agreement = await self._app.agreement(agreement_id)
        except NotFound:
            return
        since = self._slots_done_until.get(agreement_id, now - CHECK_CALL_LOOKBACK)
        recorded = await self._due.recorded_check_calls(agreement_id, since=since)
        closed = [slot for slot in slots(agreement, start=since, end=now) if slot.window_end <= now]
        for slot in closed:
            for party in slot.expected:
                if (slot.id, party) not in recorded:
                    await self._send(report, check_calls.RecordCheckCallMissed(
                        slot=slot, party=party, by=SYSTEM, at=slot.window_end,
                    ), key=f"checkcall/{slot.id}/{party}-missed")
        if closed and not report.errors:
            self._slots_done_until[agreement_id] = closed[-1].start + timedelta(seconds=1)

    async def _send(self, report: TickReport, command: Any, *, key: str) -> None:
        try:
            outcome = await self._app.execute(command, event_ids=event_ids(key), retrying=True)
        except (Rejected, NotFound, Conflict) as error:
            report.errors.append(f"{key}: {error}")
            return
        if outcome.events:
            report.recorded.extend(event.type for event in outcome.events)
        else:
            report.skipped += 1
