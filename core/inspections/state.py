"""The folded state of one visit (inspection, evaluation visit or overflight), and which of its
clocks are overdue at a moment — the one definition the scheduler's read models follow."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from core.inspections.events import Deadline
from core.inspections.quota import Ground, QuotaState
from core.inspections.terms import Kind, VisitTerms


class Status(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    ENTERED = "entered"
    STARTED = "started"
    COMPLETED = "completed"
    REPORTED = "reported"
    COMMENTED = "commented"
    PROHIBITED = "prohibited"
    PREVENTED = "prevented"


#: Statuses that count against the receiving party's quota (accepted, and not prevented by force
#: majeure nor prohibited).
COUNTING = frozenset({Status.ACCEPTED, Status.ENTERED, Status.STARTED, Status.COMPLETED, Status.REPORTED,
                      Status.COMMENTED})
#: Accepted and not yet completed: the visits "at a time" of the concurrency limit.
IN_PROGRESS = frozenset({Status.ACCEPTED, Status.ENTERED, Status.STARTED})


class Visit(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    agreement_id: str
    kind: Kind
    requesting_party: str
    receiving_party: str
    point_of_entry: str
    expected_arrival: datetime
    team_size: int
    quota_year: int
    terms_version: int
    terms: VisitTerms
    requested_at: datetime
    reply_due: datetime
    entry_due: datetime | None
    notice_due: datetime | None = None
    notice_late: bool = False
    status: Status = Status.REQUESTED
    replied_at: datetime | None = None
    reply_late: bool | None = None
    refusal_ground: Ground | None = None
    refusal_text: str = ""
    ground_held: bool | None = None
    unsubstantiated: bool = False
    reply_quota: QuotaState | None = None  # as recorded in the reply
    entered_at: datetime | None = None
    entry_late: bool | None = None
    arrival_overdue: bool = False
    plan_due: datetime | None = None
    plan_agreed_at: datetime | None = None
    started_at: datetime | None = None
    completion_due: datetime | None = None
    completed_at: datetime | None = None
    completion_late: bool | None = None
    reported_at: datetime | None = None
    commented_at: datetime | None = None
    prohibited_at: datetime | None = None
    reasons_due: datetime | None = None
    reasons_given_at: datetime | None = None
    prevented_at: datetime | None = None
    missed: dict[str, datetime] = {}

    @property
    def accepted_at(self) -> datetime | None:
        return self.replied_at if self.refusal_ground is None else None

    def due(self, deadline: Deadline) -> datetime | None:
        """When `deadline` falls (a notice miss is recorded at the request, when it became known)."""
        return {
            "notice": self.requested_at if self.notice_late else None,
            "reply": self.reply_due,
            "entry": self.entry_due,
            "flight_plan": self.plan_due,
            "duration": self.completion_due,
            "reasons": self.reasons_due,
        }[deadline]

    def overdue(self, now: datetime) -> list[Deadline]:
        """Clocks that have run out at `now` without the fact that meets them or a recorded miss."""
        open_: list[Deadline] = []
        if self.notice_late:
            open_.append("notice")
        if self.status is Status.REQUESTED:
            open_.append("reply")
        if self.status is Status.ACCEPTED:
            open_.append("entry")
        if self.status is Status.ENTERED and self.plan_due is not None and self.plan_agreed_at is None:
            open_.append("flight_plan")
        if self.status in (Status.ENTERED, Status.STARTED):
            open_.append("duration")
        if self.status is Status.PROHIBITED and self.reasons_given_at is None:
            open_.append("reasons")
        out: list[Deadline] = []
        for deadline in open_:
            due = self.due(deadline)
            if due is not None and due <= now and deadline not in self.missed:
                out.append(deadline)
        return out
