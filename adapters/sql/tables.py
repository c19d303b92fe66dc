"""The SQL schema of the read models (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Two kinds of tables live here:

- **projections** (`PROJECTION_TABLES`): rebuilt from the event stream by `projector.Projector`,
  covered by `digest.digest`, never written by anyone else;
- **API state** (`API_TABLES`): bearer tokens and idempotency keys, written by the HTTP layer,
  not derived from events, not rebuilt, not in the digest.

`migrations/versions/*` must produce exactly this schema; a test compares the two.
Times are `UTCDateTime`: aware UTC datetimes in and out, even though SQLite stores them naive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from adapters.sql.columns import UTCDateTime, _json, metadata
from adapters.sql.record_tables import (  # noqa: F401 - re-exported: `tables` names every read model
    RECORD_TABLES,
    aggregate_states,
    agreement_parties,
    agreement_terms,
    agreements,
    check_calls,
    hotline_feed,
    hotline_messages,
    hotline_requests,
)
from adapters.sql.inspection_rows import INSPECTION_TABLES  # noqa: E402 - registers the inspection views too

# --- projector bookkeeping --------------------------------------------------------------------

projection_checkpoints = Table(
    "projection_checkpoints",
    metadata,
    Column("name", String, primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String, nullable=True),
)

# --- every event, whatever its type: who did what to which aggregate, when --------------------
# The envelope's attributes without `data` and `signature` (the stream holds those; incident
# payloads are also in `incident_timeline`).

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String, nullable=False),
    Column("type", String, nullable=False),
    Column("aggtype", String, nullable=False),
    Column("aggregate_id", String, nullable=False),
    Column("aggversion", Integer, nullable=False),
    Column("source", String, nullable=False),
    Column("time", UTCDateTime, nullable=False),  # business time of the fact
    Column("recorded", UTCDateTime, nullable=False),  # JetStream's timestamp
    Column("party", String, nullable=False),
    Column("actor", String, nullable=False),
    Column("schemaversion", Integer, nullable=False),
    Column("correlationid", String, nullable=True),
    Column("causationid", String, nullable=True),
    Column("backfilled", Boolean, nullable=False),
    Column("hash", String, nullable=True),
    Column("prevhash", String, nullable=True),
    UniqueConstraint("event_id"),
    Index(None, "aggregate_id"),
)

# --- parties and their officers ----------------------------------------------------------------

parties = Table(
    "parties",
    metadata,
    Column("code", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("registered_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),  # the party aggregate's last event (ETag)
    Column("version", Integer, nullable=False),  # aggversion of its last event (= number of events)
)

officers = Table(
    "officers",
    metadata,
    # Officer ids are unique within a party (that is what the party decider checks).
    Column("party_code", String, ForeignKey("parties.code"), nullable=False),
    Column("id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("registered_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("party_code", "id"),
    Index(None, "id"),
)

# --- incidents -----------------------------------------------------------------------------------

incidents = Table(
    "incidents",
    metadata,
    Column("id", String, primary_key=True),
    Column("reporter", String, nullable=False),
    Column("status", String, nullable=False),
    Column("kind", String, nullable=False),  # from the reporter's current account
    Column("severity", Integer, nullable=False),  # from the reporter's current account
    Column("started_at", UTCDateTime, nullable=False),  # from the reporter's current account
    Column("ended_at", UTCDateTime, nullable=False),  # from the reporter's current account
    Column("reported_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("parties", String, nullable=False),  # ",USA,RUS," in the reporter's order
    Column("last_seq", BigInteger, nullable=False),  # the aggregate's last stream seq (ETag)
    Column("version", Integer, nullable=False),  # aggversion of its last event (= number of events)
    Column("state", _json(), nullable=False),  # core.incidents.state.Incident, see state_codec
    Index(None, "status"),
    Index(None, "kind"),
    Index(None, "started_at"),
    Index(None, "reported_at", "id"),  # keyset pagination of list_incidents
)

incident_parties = Table(
    "incident_parties",
    metadata,
    Column("incident_id", String, ForeignKey("incidents.id"), nullable=False),
    Column("party", String, nullable=False),
    PrimaryKeyConstraint("incident_id", "party"),
    Index(None, "party", "incident_id"),  # a dyad's incidents: two index-only scans merged on the id
)

incident_accounts = Table(
    "incident_accounts",
    metadata,
    Column("incident_id", String, ForeignKey("incidents.id"), nullable=False),
    Column("party", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("filed_at", UTCDateTime, nullable=False),
    Column("amended_at", UTCDateTime, nullable=True),
    Column("amendment_reason", Text, nullable=True),
    Column("kind", String, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=False),
    Column("time_precision", String, nullable=False),
    Column("lat", Double, nullable=True),
    Column("lon", Double, nullable=True),
    Column("uncertainty_m", Double, nullable=True),
    Column("place", String, nullable=True),
    Column("initiator", String, nullable=False),
    Column("units", _json(), nullable=False),
    Column("cpa_m", Double, nullable=True),
    Column("severity", Integer, nullable=False),
    Column("casualties", Integer, nullable=True),  # NULL: unknown
    Column("narrative", Text, nullable=False),
    Column("sources", _json(), nullable=False),
    Column("attachments", _json(), nullable=False),
    PrimaryKeyConstraint("incident_id", "party"),
)

incident_clarifications = Table(
    "incident_clarifications",
    metadata,
    Column("incident_id", String, ForeignKey("incidents.id"), nullable=False),
    Column("clarification_id", String, nullable=False),
    Column("from_party", String, nullable=False),
    Column("to_party", String, nullable=False),
    Column("question", Text, nullable=False),
    Column("asked_at", UTCDateTime, nullable=False),
    Column("answer", Text, nullable=True),
    Column("answered_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("incident_id", "clarification_id"),
)

incident_timeline = Table(
    "incident_timeline",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("incident_id", String, ForeignKey("incidents.id"), nullable=False),
    Column("event_id", String, nullable=False),
    Column("type", String, nullable=False),
    Column("time", UTCDateTime, nullable=False),
    Column("party", String, nullable=False),
    Column("actor", String, nullable=False),
    Column("summary", Text, nullable=False),  # one line a person can read
    Column("data", _json(), nullable=False),  # the event's payload
    # an incident's rows, and whether it has any in a metrics window (metrics_source._incidents)
    Index(None, "incident_id", "time"),
    Index(None, "time", "incident_id"),  # the incidents with rows in a window, for every party
)

# --- API state (not projections) -----------------------------------------------------------------

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String, primary_key=True),
    Column("secret_hash", String, nullable=False),
    Column("officer_id", String, nullable=True),  # NULL for party-less roles (admin, auditor)
    Column("party", String, nullable=True),  # NULL for party-less roles
    Column("role", String, nullable=False),
    Column("label", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    UniqueConstraint("secret_hash"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String, nullable=False),  # e.g. the token id: keys are per caller
    Column("key", String, nullable=False),
    Column("request_hash", String, nullable=False),
    Column("status", String, nullable=False),  # 'pending' | 'done'
    Column("response_status", Integer, nullable=True),
    Column("response_body", _json(), nullable=True),
    Column("event_ids", _json(), nullable=True),
    Column("aggregate_id", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
    Index(None, "created_at"),
)

#: Tables the projector owns, in foreign-key order (parents first).
PROJECTION_TABLES: tuple[Table, ...] = (
    events,
    parties,
    officers,
    incidents,
    incident_parties,
    incident_accounts,
    incident_clarifications,
    incident_timeline,
    *RECORD_TABLES,
    *INSPECTION_TABLES,
)

#: Tables the HTTP API owns; never rebuilt, never digested.
API_TABLES: tuple[Table, ...] = (api_tokens, idempotency_keys)
