"""Read models of inspections, evaluation visits, overflights and notifications.

`inspections` is one row per visit: who, what kind, its status, every clock's due time, when each
step happened and whether it was late, and each recorded miss. The step times make quota status
**as of any moment** a query (`accepted_at <= T` and not prevented or prohibited by T), so no
history table is needed. `notifications` holds activity notices and units reports, and
`notification_recipients` one row per party a notification is addressed to (visibility).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from adapters.sql.columns import UTCDateTime, _json, metadata

#: The clocks of a visit, each with a `<name>_missed_at` column.
DEADLINES = ("notice", "reply", "entry", "flight_plan", "duration", "reasons")

inspections = Table(
    "inspections",
    metadata,
    Column("id", String, primary_key=True),
    Column("agreement_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("requesting_party", String, nullable=False),
    Column("receiving_party", String, nullable=False),
    Column("status", String, nullable=False),
    Column("quota_year", Integer, nullable=False),
    Column("terms_version", Integer, nullable=False),
    Column("point_of_entry", Text, nullable=False),
    Column("expected_arrival", UTCDateTime, nullable=False),
    Column("team_size", Integer, nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("reply_due", UTCDateTime, nullable=False),
    Column("entry_due", UTCDateTime, nullable=True),
    Column("notice_due", UTCDateTime, nullable=True),
    Column("notice_late", Boolean, nullable=False),
    Column("replied_at", UTCDateTime, nullable=True),
    Column("reply_late", Boolean, nullable=True),
    Column("accepted_at", UTCDateTime, nullable=True),
    Column("refusal_ground", String, nullable=True),
    Column("refusal_text", Text, nullable=True),
    Column("ground_held", Boolean, nullable=True),
    Column("unsubstantiated", Boolean, nullable=False),
    Column("reply_quota", _json(), nullable=True),
    Column("entered_at", UTCDateTime, nullable=True),
    Column("entry_late", Boolean, nullable=True),
    Column("arrival_overdue", Boolean, nullable=False),
    Column("plan_due", UTCDateTime, nullable=True),
    Column("plan_agreed_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("completion_due", UTCDateTime, nullable=True),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("completion_late", Boolean, nullable=True),
    Column("reported_at", UTCDateTime, nullable=True),
    Column("commented_at", UTCDateTime, nullable=True),
    Column("prohibited_at", UTCDateTime, nullable=True),
    Column("reasons_due", UTCDateTime, nullable=True),
    Column("reasons_given_at", UTCDateTime, nullable=True),
    Column("prevented_at", UTCDateTime, nullable=True),
    *(Column(f"{name}_missed_at", UTCDateTime, nullable=True) for name in DEADLINES),
    Column("last_seq", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Index(None, "receiving_party", "quota_year"),
    Index(None, "requesting_party"),
    Index(None, "status"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", String, primary_key=True),
    Column("agreement_id", String, nullable=False),
    Column("party", String, nullable=False),
    Column("kind", String, nullable=False),  # activity | units
    Column("notified_at", UTCDateTime, nullable=False),
    Column("terms_version", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("start", UTCDateTime, nullable=True),
    Column("end", UTCDateTime, nullable=True),
    Column("area", _json(), nullable=True),
    Column("scale", _json(), nullable=True),
    Column("notifiable", _json(), nullable=False),
    Column("lead_seconds", BigInteger, nullable=True),
    Column("required_lead_seconds", BigInteger, nullable=True),
    Column("late", Boolean, nullable=False),
    Column("year", Integer, nullable=True),
    Column("units", Integer, nullable=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Index(None, "party", "kind", "year"),
    Index(None, "notified_at"),  # the metrics' window (metrics_source)
)

notification_recipients = Table(
    "notification_recipients",
    metadata,
    Column("notification_id", String, nullable=False),
    Column("party", String, nullable=False),
    PrimaryKeyConstraint("notification_id", "party"),
    Index(None, "party"),
)
