"""Read models of agreements and the hotline (projections, rebuilt from the stream).

`aggregate_states` keeps the folded state of each agreement/hotline aggregate as JSON so the
projector can continue from the database after a restart; the other tables are the queryable
views the API, the scheduler and the metrics read. `hotline_feed` is one row per hotline event,
with both ends of the channel, for live delivery (SSE) and its resumption by stream sequence.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from adapters.sql.columns import UTCDateTime, _json, metadata

aggregate_states = Table(
    "aggregate_states",
    metadata,
    Column("aggtype", String, nullable=False),
    Column("id", String, nullable=False),
    Column("state", _json(), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("aggtype", "id"),
)

agreements = Table(
    "agreements",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("parties", _json(), nullable=False),
    Column("concluded_at", UTCDateTime, nullable=False),
    Column("terms_version", Integer, nullable=False),  # the latest version (may take effect later)
    Column("last_seq", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
)

agreement_parties = Table(
    "agreement_parties",
    metadata,
    Column("agreement_id", String, nullable=False),
    Column("party", String, nullable=False),
    Column("primary_contact", String, nullable=True),
    Column("alternate_contact", String, nullable=True),
    PrimaryKeyConstraint("agreement_id", "party"),
    Index(None, "party"),
)

agreement_terms = Table(
    "agreement_terms",
    metadata,
    Column("agreement_id", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("effective_from", UTCDateTime, nullable=False),
    Column("terms", _json(), nullable=False),
    PrimaryKeyConstraint("agreement_id", "version"),
)

hotline_messages = Table(
    "hotline_messages",
    metadata,
    Column("id", String, primary_key=True),
    Column("agreement_id", String, nullable=False),
    Column("from_party", String, nullable=False),
    Column("to_party", String, nullable=False),
    Column("precedence", String, nullable=False),
    Column("subject", String, nullable=False),
    Column("in_reply_to", String, nullable=True),
    Column("answer_required", Boolean, nullable=False),
    Column("status", String, nullable=False),
    Column("terms_version", Integer, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("ack_due", UTCDateTime, nullable=False),
    Column("answer_due", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("ack_late", Boolean, nullable=True),
    Column("answered_at", UTCDateTime, nullable=True),
    Column("answer_late", Boolean, nullable=True),
    Column("ack_missed_at", UTCDateTime, nullable=True),
    Column("answer_missed_at", UTCDateTime, nullable=True),
    Column("escalated_at", UTCDateTime, nullable=True),
    Column("escalated_to", String, nullable=True),
    Column("sent_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Index(None, "to_party", "sent_seq"),
    Index(None, "from_party", "sent_seq"),
    Index(None, "ack_due"),
    # the metrics' window of a dyad or a party (metrics_source): an ordered pair, or either end
    Index(None, "to_party", "from_party", "sent_at"),
    Index(None, "from_party", "sent_at"),
)

check_calls = Table(
    "check_calls",
    metadata,
    Column("slot_id", String, nullable=False),
    Column("party", String, nullable=False),
    Column("agreement_id", String, nullable=False),
    Column("slot_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("caller", String, nullable=False),
    Column("terms_version", Integer, nullable=False),
    Column("outcome", String, nullable=False),  # 'answered' | 'missed'
    Column("recorded_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("slot_id", "party"),
    Index(None, "agreement_id", "party", "slot_start"),
)

hotline_requests = Table(
    "hotline_requests",
    metadata,
    Column("kind", String, nullable=False),  # 'call' | 'explanation'
    Column("id", String, nullable=False),
    Column("agreement_id", String, nullable=False),
    Column("from_party", String, nullable=False),
    Column("to_party", String, nullable=False),
    Column("subject", Text, nullable=False),
    Column("status", String, nullable=False),
    Column("terms_version", Integer, nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("due", UTCDateTime, nullable=False),  # respond (call) / reply (explanation) deadline
    Column("responded_at", UTCDateTime, nullable=True),
    Column("response_late", Boolean, nullable=True),
    Column("no_response_at", UTCDateTime, nullable=True),
    Column("meeting_requested_at", UTCDateTime, nullable=True),
    Column("meeting_due", UTCDateTime, nullable=True),
    Column("meeting_held_at", UTCDateTime, nullable=True),
    Column("meeting_late", Boolean, nullable=True),
    Column("meeting_missed_at", UTCDateTime, nullable=True),
    Column("held_at", UTCDateTime, nullable=True),
    Column("incident_id", String, nullable=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("kind", "id"),
    Index(None, "due"),
    # the metrics' window of a dyad or a party (metrics_source), as for hotline_messages
    Index(None, "to_party", "from_party", "requested_at"),
    Index(None, "from_party", "requested_at"),
)

hotline_feed = Table(
    "hotline_feed",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String, nullable=False),
    Column("type", String, nullable=False),
    Column("aggtype", String, nullable=False),
    Column("aggregate_id", String, nullable=False),
    Column("agreement_id", String, nullable=False),
    Column("from_party", String, nullable=True),  # NULL: addressed to every party of the agreement
    Column("to_party", String, nullable=True),
    Column("notify", String, nullable=True),  # an officer to alert (escalation's alternate contact)
    Column("time", UTCDateTime, nullable=False),
    Column("party", String, nullable=False),  # who recorded it
    Column("data", _json(), nullable=False),
    Index(None, "to_party", "seq"),
    Index(None, "from_party", "seq"),
)

#: In foreign-key order (there are none between these).
RECORD_TABLES: tuple[Table, ...] = (
    aggregate_states, agreements, agreement_parties, agreement_terms, hotline_messages, check_calls,
    hotline_requests, hotline_feed,
)
