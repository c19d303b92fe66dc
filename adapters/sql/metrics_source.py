"""Fills the metrics' plain records (`core.metrics.records`) from the read models, as of a moment.

The read models hold each record's current state, and every fact in it carries its own time
(`acknowledged_at`, a timeline row's `time`…), so the records can be read at any past moment: the
metric functions ignore facts later than `as_of`. `until_seq` cuts by stream sequence as well —
facts whose event came after that sequence are removed using the events index — so a figure
can be reproduced exactly as it was served when the read models stood at that sequence, even if
older-dated (backfilled) events were imported later.

Check-call slots are not events: they come from the agreement's schedule
(`core.hotline.schedule.slots`), so a slot that nobody recorded is still counted once its
window has closed. Incident histories are replayed from `incident_timeline` with the incident
decider's own `evolve`, so statuses and account versions are the decider's (`metrics_incidents`).

Each record is read only if a window starting at `since` may count it (its start, e.g. the
sending of a message, at or after `since`), through the indexes of migration 0004: a figure's
cost follows the window and the parties asked for, not the whole history.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from adapters.sql import tables as t
from adapters.sql.inspection_tables import inspections as inspections_table
from adapters.sql.inspection_tables import notification_recipients
from adapters.sql.inspection_tables import notifications as notifications_table
from adapters.sql.metrics_incidents import incident_records
from adapters.sql.queries import Source, _connection
from core.agreements import agreement as ag
from core.agreements.agreement import Agreement
from core.agreements.terms import Terms, TermsVersion
from core.hotline import calls, explanations
from core.hotline import messages as msg
from core.hotline.check_calls import AGGREGATE as CHECKCALL
from core.hotline.check_calls import CheckCallAnswered
from core.hotline.schedule import slots as schedule_slots
from core.incidents import events as ie
from core.inspections.notifications import ActivityNotified
from core.metrics.records import (
    CallRequestRecord,
    CheckCallRecord,
    ExplanationRecord,
    InspectionRecord,
    MessageRecord,
    NotificationRecord,
)
from core.metrics.report import Histories

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _involving(table: sa.Table, parties: tuple[str, ...] | None, a: str, b: str) -> Any:
    """Rows with one of `parties` at either end (`None`: every row); two parties: both ends."""
    if not parties:
        return sa.true()
    ends = (table.c[a], table.c[b])
    if len(parties) == 1:
        return sa.or_(*(end == parties[0] for end in ends))
    return sa.and_(ends[0].in_(parties), ends[1].in_(parties))


class Later:
    """The facts recorded after the `until_seq` cut: (aggregate id, event type, party) triples."""

    def __init__(self, facts: Iterable[tuple[str, str, str]] = ()) -> None:
        self._by_party = Counter(facts)
        self._any: Counter[tuple[str, str]] = Counter()
        for (record_id, type_, _), n in self._by_party.items():
            self._any[(record_id, type_)] += n

    def __contains__(self, key: tuple[str, str] | tuple[str, str, str]) -> bool:
        return key in (self._by_party if len(key) == 3 else self._any)

    def count(self, record_id: str, type_: str) -> int:
        """How many events of `type_` on `record_id` came after the cut (e.g. terms amendments)."""
        return self._any[(record_id, type_)]

    def unless(self, record_id: str, type_: str, moment: datetime | None) -> datetime | None:
        """`moment`, unless the event that recorded it came after the cut."""
        return None if (record_id, type_) in self else moment


async def _later_facts(conn: Any, until_seq: int | None, aggtypes: Iterable[str]) -> Later:
    if until_seq is None:
        return Later()
    e = t.events
    rows = await conn.execute(sa.select(e.c.aggregate_id, e.c.type, e.c.party)
                              .where(e.c.seq > until_seq, e.c.aggtype.in_(list(aggtypes))))
    return Later((r.aggregate_id, r.type, r.party) for r in rows)


async def load(
    source: Source, *, as_of: datetime, since: datetime | None = None, parties: tuple[str, ...] | None = None,
    until_seq: int | None = None,
) -> Histories:
    """Every record the metrics of `parties` (one party, or a dyad; None: all) may need for windows
    starting at `since` or later, as known at `as_of` (and at `until_seq`)."""
    since = since or _EPOCH
    async with _connection(source) as conn:
        later = await _later_facts(conn, until_seq, (msg.AGGREGATE, CHECKCALL, calls.AGGREGATE, explanations.AGGREGATE,
                                                      ie.AGGREGATE, "inspection", "notification", "agreement"))
        requests = await _requests(conn, as_of=as_of, since=since, parties=parties)
        return Histories(
            messages=await _messages(conn, as_of=as_of, since=since, parties=parties, later=later),
            check_calls=await _check_calls(conn, as_of=as_of, since=since, parties=parties, later=later),
            call_requests=_calls(requests, later=later),
            explanations=_explanations(requests, later=later),
            incidents=await incident_records(conn, as_of=as_of, since=since, parties=parties, until_seq=until_seq),
            inspections=await _inspections(conn, as_of=as_of, since=since, parties=parties, later=later),
            notifications=await _notifications(conn, as_of=as_of, since=since, parties=parties, later=later),
        )


async def _messages(conn: Any, *, as_of: datetime, since: datetime, parties: tuple[str, ...] | None,
                    later: Later) -> list[MessageRecord]:
    m = t.hotline_messages
    rows = await conn.execute(sa.select(
        m.c.id, m.c.from_party, m.c.to_party, m.c.precedence, m.c.sent_at, m.c.ack_due, m.c.answer_due,
        m.c.answer_required, m.c.acknowledged_at, m.c.answered_at,
    ).where(m.c.sent_at >= since, m.c.sent_at <= as_of, _involving(m, parties, "from_party", "to_party")))
    found = []
    for r in rows:
        if (r.id, msg.MessageSent.TYPE) in later:
            continue
        found.append(MessageRecord(
            id=r.id, from_party=r.from_party, to_party=r.to_party, precedence=r.precedence, sent_at=r.sent_at,
            ack_due=r.ack_due, answer_due=r.answer_due, answer_required=r.answer_required,
            acknowledged_at=later.unless(r.id, msg.MessageAcknowledged.TYPE, r.acknowledged_at),
            answered_at=later.unless(r.id, msg.MessageAnswered.TYPE, r.answered_at),
        ))
    return found


async def agreements(conn: Any, *, parties: tuple[str, ...] | None = None,
                     later: Later | None = None) -> list[Agreement]:
    """The agreements binding `parties`, with the terms versions known (at `later`'s cut)."""
    a, at, ap = t.agreements, t.agreement_terms, t.agreement_parties
    query = sa.select(a).order_by(a.c.id)
    for party in parties or ():
        query = query.where(a.c.id.in_(sa.select(ap.c.agreement_id).where(ap.c.party == party)))
    later = later or Later()
    found = []
    for row in (await conn.execute(query)).all():
        if (row.id, ag.AgreementConcluded.TYPE) in later:
            continue
        unknown = later.count(row.id, ag.TermsAmended.TYPE)
        versions = (await conn.execute(sa.select(at).where(at.c.agreement_id == row.id).order_by(at.c.version))).all()
        versions = versions[:len(versions) - unknown] if unknown else versions
        found.append(Agreement(
            id=row.id, name=row.name, parties=tuple(row.parties), concluded_at=row.concluded_at,
            versions=tuple(TermsVersion(version=v.version, effective_from=v.effective_from,
                                        terms=Terms.model_validate(v.terms)) for v in versions),
        ))
    return found


async def _check_calls(conn: Any, *, as_of: datetime, since: datetime, parties: tuple[str, ...] | None,
                       later: Later) -> list[CheckCallRecord]:
    c = t.check_calls
    found: list[CheckCallRecord] = []
    for agreement in await agreements(conn, parties=parties, later=later):
        slots = [s for s in schedule_slots(agreement, start=since, end=as_of)
                 if s.window_end <= as_of]
        if not slots:
            continue
        answered = {(r.slot_id, r.party): r.recorded_at for r in await conn.execute(
            sa.select(c.c.slot_id, c.c.party, c.c.recorded_at).where(
                c.c.agreement_id == agreement.id, c.c.outcome == "answered", c.c.slot_start >= since,
                c.c.slot_start <= as_of))}
        for slot in slots:
            slot_id = slot.id  # formatted from the start: once per slot, not per use
            for party in slot.expected:
                if parties and (party not in parties or (len(parties) == 2 and slot.caller not in parties)):
                    continue
                moment = answered.get((slot_id, party))
                if moment is not None and (slot_id, CheckCallAnswered.TYPE, party) in later:
                    moment = None
                found.append(CheckCallRecord(slot_id=slot_id, party=party, caller=slot.caller,
                                             slot_start=slot.start, window_end=slot.window_end, answered_at=moment))
    return found


async def _requests(conn: Any, *, as_of: datetime, since: datetime, parties: tuple[str, ...] | None) -> list[Any]:
    """Call and explanation requests made in the window, both kinds in one statement."""
    r = t.hotline_requests
    return (await conn.execute(sa.select(
        r.c.kind, r.c.id, r.c.from_party, r.c.to_party, r.c.status, r.c.requested_at, r.c.due, r.c.responded_at,
    ).where(r.c.requested_at >= since, r.c.requested_at <= as_of,
            _involving(r, parties, "from_party", "to_party")))).all()


def _calls(requests: list[Any], *, later: Later) -> list[CallRequestRecord]:
    found = []
    for row in requests:
        if row.kind != "call" or (row.id, calls.CallRequested.TYPE) in later:
            continue
        responded = row.responded_at
        response = None
        if responded is not None:
            response = "declined" if row.status == calls.Status.DECLINED.value else "accepted"
            type_ = calls.CallDeclined.TYPE if response == "declined" else calls.CallAccepted.TYPE
            if (row.id, type_) in later:
                responded, response = None, None
        found.append(CallRequestRecord(id=row.id, from_party=row.from_party, to_party=row.to_party,
                                       requested_at=row.requested_at, respond_due=row.due,
                                       responded_at=responded, response=response))
    return found


def _explanations(requests: list[Any], *, later: Later) -> list[ExplanationRecord]:
    return [
        ExplanationRecord(id=row.id, from_party=row.from_party, to_party=row.to_party, requested_at=row.requested_at,
                          reply_due=row.due,
                          replied_at=later.unless(row.id, explanations.ExplanationReplied.TYPE, row.responded_at))
        for row in requests
        if row.kind == "explanation" and (row.id, explanations.ExplanationRequested.TYPE) not in later
    ]


async def _inspections(conn: Any, *, as_of: datetime, since: datetime, parties: tuple[str, ...] | None,
                       later: Later) -> list[InspectionRecord]:
    v = inspections_table
    ends = sa.true() if not parties else sa.or_(v.c.requesting_party.in_(parties), v.c.receiving_party.in_(parties))
    rows = await conn.execute(sa.select(v).where(  # also the as-of year's quota: reciprocity and passive use
        sa.or_(v.c.requested_at >= since, v.c.quota_year == as_of.year), v.c.requested_at <= as_of, ends))
    found = []
    for row in rows:
        if (row.id, "parley.inspection.requested.v1") in later:
            continue
        replied, reply = row.replied_at, None
        if replied is not None:
            reply = "refused" if row.refusal_ground is not None else "accepted"
            if (row.id, f"parley.inspection.{reply}.v1") in later:
                replied, reply = None, None
        quota = (row.reply_quota or {}) if reply is not None else {}
        found.append(InspectionRecord(
            id=row.id, requester=row.requesting_party, host=row.receiving_party, requested_at=row.requested_at,
            reply_due=row.reply_due, entry_due=row.entry_due, kind=row.kind, quota_year=row.quota_year,
            quota=quota.get("quota"), quota_refusable=bool(quota.get("grounds_holding")),
            replied_at=replied, reply=reply, refusal_ground=row.refusal_ground if reply == "refused" else None,
            refusal_ground_valid=(not row.unsubstantiated) if reply == "refused" else None,
            entered_at=later.unless(row.id, "parley.inspection.team-entered.v1", row.entered_at),
            prevented_at=later.unless(row.id, "parley.inspection.prevented.v1", row.prevented_at),
            prohibited_at=later.unless(row.id, "parley.inspection.prohibited.v1", row.prohibited_at),
        ))
    return found


async def _notifications(conn: Any, *, as_of: datetime, since: datetime, parties: tuple[str, ...] | None,
                         later: Later) -> list[NotificationRecord]:
    """Activity notices (not units reports) with the lead they gave and the lead required."""
    n, nr = notifications_table, notification_recipients
    query = sa.select(n).where(n.c.kind == "activity", n.c.notified_at >= since, n.c.notified_at <= as_of,
                               n.c.lead_seconds.is_not(None), n.c.required_lead_seconds.is_not(None))
    if parties:
        query = query.where(sa.or_(n.c.party.in_(parties), n.c.id.in_(
            sa.select(nr.c.notification_id).where(nr.c.party.in_(parties)))))
    rows = (await conn.execute(query)).all()
    recipients: dict[str, list[str]] = defaultdict(list)
    if rows:
        for r in await conn.execute(sa.select(nr).where(nr.c.notification_id.in_([row.id for row in rows]))):
            recipients[r.notification_id].append(r.party)
    return [
        NotificationRecord(id=row.id, party=row.party, to_parties=tuple(sorted(recipients[row.id])),
                           notified_at=row.notified_at, lead_seconds=row.lead_seconds,
                           required_lead_seconds=row.required_lead_seconds, notifiable=bool(row.notifiable))
        for row in rows if (row.id, ActivityNotified.TYPE) not in later
    ]


# --- live operations -----------------------------------------------------------------------------

#: The obligations counted live: (name, table, due column, done column, extra condition).
def _live_kinds() -> list[tuple[str, sa.Table, Any, Any, Any]]:
    m, r, v = t.hotline_messages, t.hotline_requests, inspections_table
    return [
        ("acknowledgement", m, m.c.ack_due, m.c.acknowledged_at, sa.true()),
        ("answer", m, m.c.answer_due, m.c.answered_at, m.c.answer_required.is_(True)),
        ("call_response", r, r.c.due, r.c.responded_at, r.c.kind == "call"),
        ("explanation_reply", r, r.c.due, r.c.responded_at, r.c.kind == "explanation"),
        ("inspection_reply", v, v.c.reply_due, v.c.replied_at, sa.true()),
        ("inspection_entry", v, v.c.entry_due, v.c.entered_at, v.c.accepted_at.is_not(None)),
    ]


async def live_counts(source: Source, *, now: datetime) -> dict[str, dict[str, int]]:
    """For live operations (Prometheus): per kind of obligation, how many are open (due after
    `now`, not yet met) and how many fell due since midnight UTC without being met in time."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    found: dict[str, dict[str, int]] = {"open": {}, "breaches_today": {}}
    async with _connection(source) as conn:
        for name, table, due, done, where in _live_kinds():
            open_ = sa.select(sa.func.count()).select_from(table).where(
                where, due.is_not(None), due > now, sa.or_(done.is_(None), done > now))
            missed = sa.select(sa.func.count()).select_from(table).where(
                where, due.is_not(None), due >= midnight, due <= now, sa.or_(done.is_(None), done > due))
            found["open"][name] = (await conn.execute(open_)).scalar_one()
            found["breaches_today"][name] = (await conn.execute(missed)).scalar_one()
        c = t.check_calls
        found["breaches_today"]["check_call"] = (await conn.execute(sa.select(sa.func.count()).select_from(c).where(
            c.c.outcome == "missed", c.c.window_end >= midnight, c.c.window_end <= now))).scalar_one()
    return found
