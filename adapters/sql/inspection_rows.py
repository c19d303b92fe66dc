"""How visits and notifications become rows: `RecordView`s registered with the generic record
projection (`record_rows.register_view`), so the projector folds them like the hotline's.

Pure: a row is a function of the folded state (no I/O, no clock), so rebuilds on SQLite and
PostgreSQL write the same rows. Importing this module registers the views and the tables.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from adapters.sql.columns import as_utc
from adapters.sql.inspection_tables import DEADLINES, inspections, notification_recipients, notifications
from adapters.sql.record_rows import RecordView, Rows, register_view
from core.inspections import decider as visits
from core.inspections import notifications as n
from core.inspections.state import Visit

#: The read-model tables of this module, for `tables.PROJECTION_TABLES` (rebuilt and digested).
INSPECTION_TABLES = (inspections, notifications, notification_recipients)


def visit_rows(state: Visit, last_seq: int, version: int) -> Rows:
    times = {key: as_utc(getattr(state, key)) for key in (
        "expected_arrival", "requested_at", "reply_due", "entry_due", "notice_due", "replied_at", "entered_at",
        "plan_due", "plan_agreed_at", "started_at", "completion_due", "completed_at", "reported_at", "commented_at",
        "prohibited_at", "reasons_due", "reasons_given_at", "prevented_at")}
    row: dict[str, Any] = {
        "id": state.id, "agreement_id": state.agreement_id, "kind": state.kind.value,
        "requesting_party": state.requesting_party, "receiving_party": state.receiving_party,
        "status": state.status.value, "quota_year": state.quota_year, "terms_version": state.terms_version,
        "point_of_entry": state.point_of_entry, "team_size": state.team_size, "notice_late": state.notice_late,
        "reply_late": state.reply_late, "accepted_at": as_utc(state.accepted_at),
        "refusal_ground": None if state.refusal_ground is None else state.refusal_ground.value,
        "refusal_text": state.refusal_text or None, "ground_held": state.ground_held,
        "unsubstantiated": state.unsubstantiated,
        "reply_quota": None if state.reply_quota is None else state.reply_quota.model_dump(mode="json"),
        "entry_late": state.entry_late, "arrival_overdue": state.arrival_overdue,
        "completion_late": state.completion_late, "last_seq": last_seq, "version": version, **times,
    }
    row.update({f"{name}_missed_at": as_utc(state.missed.get(name)) for name in DEADLINES})
    return {"inspections": [row]}


def notification_rows(state: n.Notification, last_seq: int, version: int) -> Rows:
    return {
        "notifications": [{
            "id": state.id, "agreement_id": state.agreement_id, "party": state.party, "kind": state.kind,
            "notified_at": as_utc(state.notified_at), "terms_version": state.terms_version, "title": state.title,
            "start": as_utc(state.start), "end": as_utc(state.end), "area": state.area,
            "scale": None if state.scale is None else state.scale.model_dump(mode="json"),
            "notifiable": list(state.notifiable),
            "lead_seconds": None if state.lead is None else int(state.lead.total_seconds()),
            "required_lead_seconds": None if state.required_lead is None else int(state.required_lead.total_seconds()),
            "late": state.late, "year": state.year, "units": state.units, "last_seq": last_seq, "version": version,
        }],
        "notification_recipients": [{"notification_id": state.id, "party": party}
                                    for party in sorted(state.to_parties)],
    }


register_view(visits.AGGREGATE, RecordView(decider=visits.DECIDER, codec=TypeAdapter(Visit), rows=visit_rows))
register_view(n.AGGREGATE, RecordView(decider=n.DECIDER, codec=TypeAdapter(n.Notification), rows=notification_rows))
