"""The plain facts the metrics are computed over, one frozen record per obligation.

An adapter fills these from the read models (or a test from its own history); they hold only
times and codes, no SQLAlchemy and no pydantic, so the reference implementation in the tests
and the projection-backed one feed the very same functions. A time that is `None` means the fact
has not happened; a time later than the as-of moment is treated by every metric as not having
happened yet (see `known`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


def known(moment: datetime | None, as_of: datetime) -> datetime | None:
    """`moment` if the fact had happened by `as_of`, else None: the as-of cut of one fact."""
    return moment if moment is not None and moment <= as_of else None


@dataclass(frozen=True, kw_only=True)
class MessageRecord:
    """A hotline message; `to_party` owes the acknowledgement and the answer, from `sent_at`."""

    id: str
    from_party: str
    to_party: str
    precedence: str
    sent_at: datetime
    ack_due: datetime
    answer_due: datetime
    answer_required: bool = True
    acknowledged_at: datetime | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class CheckCallRecord:
    """One expected answerer of one scheduled check-call slot (`party` answers, `caller` calls).

    Slots come from the agreement's schedule, not from events, so a slot nobody recorded as
    missed is still counted once its window has closed.
    """

    slot_id: str
    party: str
    caller: str
    slot_start: datetime
    window_end: datetime
    answered_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.slot_id}/{self.party}"


@dataclass(frozen=True, kw_only=True)
class CallRequestRecord:
    """A request for a call; `to_party` owes an acceptance or a refusal by `respond_due`."""

    id: str
    from_party: str
    to_party: str
    requested_at: datetime
    respond_due: datetime
    responded_at: datetime | None = None
    response: str | None = None  # "accepted" | "declined"


@dataclass(frozen=True, kw_only=True)
class ExplanationRecord:
    """A request for explanation; `to_party` owes a reply by `reply_due`."""

    id: str
    from_party: str
    to_party: str
    requested_at: datetime
    reply_due: datetime
    replied_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class AccountVersion:
    """One version of one party's account of an incident (the filing is version 1)."""

    party: str
    version: int
    recorded_at: datetime
    kind: str
    started_at: datetime
    ended_at: datetime
    time_precision: str = "minute"
    lat: float | None = None
    lon: float | None = None
    initiator: str = "unknown"
    severity: int = 1
    casualties: int | None = None


@dataclass(frozen=True, kw_only=True)
class IncidentRecord:
    """An incident with the history the metrics need: every account version, every
    acknowledgement, and every status change, each with its time, so any past moment can be read."""

    id: str
    reporter: str
    parties: tuple[str, ...]
    reported_at: datetime
    accounts: tuple[AccountVersion, ...]
    acknowledged: tuple[tuple[str, datetime], ...] = ()
    statuses: tuple[tuple[datetime, str], ...] = ()  # (time, status) in log order

    def account(self, party: str, as_of: datetime) -> AccountVersion | None:
        """`party`'s account in force at `as_of` (its latest version recorded by then)."""
        found = [a for a in self.accounts if a.party == party and a.recorded_at <= as_of]
        return max(found, key=lambda a: (a.version, a.recorded_at)) if found else None

    def first_account(self, party: str) -> AccountVersion | None:
        """The account as first filed: reporting delay is measured on what the report said."""
        found = [a for a in self.accounts if a.party == party]
        return min(found, key=lambda a: (a.version, a.recorded_at)) if found else None

    def acknowledged_at(self, party: str, as_of: datetime) -> datetime | None:
        return next((known(t, as_of) for p, t in self.acknowledged if p == party and t <= as_of), None)

    def status(self, as_of: datetime) -> str:
        current = "reported"
        for moment, status in self.statuses:
            if moment <= as_of:
                current = status
        return current

    def retracted_at(self, as_of: datetime) -> datetime | None:
        return next((t for t, s in self.statuses if s == "retracted" and t <= as_of), None)


@dataclass(frozen=True, kw_only=True)
class InspectionRecord:
    """An inspection (or evaluation visit, or overflight) request; `host` owes the reply and,
    once it accepts, the team's entry.

    `quota_refusable` and `refusal_ground_valid` are judged by the inspection regime against the
    quota state at decision time and recorded with the facts; the metrics only count them.
    """

    id: str
    requester: str
    host: str
    requested_at: datetime
    reply_due: datetime
    kind: str = "inspection"  # inspection | evaluation_visit | overflight
    quota_year: int | None = None
    quota: int | None = None  # the host's passive quota of this kind and year, as recorded in the reply
    entry_due: datetime | None = None  # None: the kind has no entry clock
    quota_refusable: bool = False
    replied_at: datetime | None = None
    reply: str | None = None  # "accepted" | "refused"
    refusal_ground: str | None = None
    refusal_ground_valid: bool | None = None
    entered_at: datetime | None = None
    prevented_at: datetime | None = None  # force majeure: the visit does not count against the quota
    prohibited_at: datetime | None = None  # an overflight prohibited: it counts against neither quota

    def counts_against_quota(self, as_of: datetime) -> bool:
        """Accepted by `as_of`, and neither prevented nor prohibited by then."""
        return (self.reply == "accepted" and known(self.replied_at, as_of) is not None
                and known(self.prevented_at, as_of) is None and known(self.prohibited_at, as_of) is None)


@dataclass(frozen=True, kw_only=True)
class NotificationRecord:
    """A prior notification of an activity by `party` to `to_parties`, with the lead it gave and
    the lead the terms required (both recorded in the event). `notifiable`: at or above the
    threshold, so the lead time was owed."""

    id: str
    party: str
    to_parties: tuple[str, ...]
    notified_at: datetime
    lead_seconds: int
    required_lead_seconds: int
    notifiable: bool = True
