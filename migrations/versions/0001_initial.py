"""Initial read models: events index, parties, officers, incidents; API tokens and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_projection_checkpoints"),
    )

    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("aggtype", sa.String(), nullable=False),
        sa.Column("aggregate_id", sa.String(), nullable=False),
        sa.Column("aggversion", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        _time("time"),
        _time("recorded"),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("schemaversion", sa.Integer(), nullable=False),
        sa.Column("correlationid", sa.String(), nullable=True),
        sa.Column("causationid", sa.String(), nullable=True),
        sa.Column("backfilled", sa.Boolean(), nullable=False),
        sa.Column("hash", sa.String(), nullable=True),
        sa.Column("prevhash", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    )
    op.create_index("ix_events_aggregate_id", "events", ["aggregate_id"])

    op.create_table(
        "parties",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        _time("registered_at"),
        sa.Column("registered_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_parties"),
    )

    op.create_table(
        "officers",
        sa.Column("party_code", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        _time("registered_at"),
        sa.Column("registered_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["party_code"], ["parties.code"], name="fk_officers_party_code_parties"),
        sa.PrimaryKeyConstraint("party_code", "id", name="pk_officers"),
    )
    op.create_index("ix_officers_id", "officers", ["id"])

    op.create_table(
        "incidents",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("reporter", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        _time("started_at"),
        _time("ended_at"),
        _time("reported_at"),
        _time("updated_at"),
        sa.Column("parties", sa.String(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_kind", "incidents", ["kind"])
    op.create_index("ix_incidents_started_at", "incidents", ["started_at"])
    op.create_index("ix_incidents_reported_at_id", "incidents", ["reported_at", "id"])

    op.create_table(
        "incident_parties",
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_incident_parties_incident_id_incidents"),
        sa.PrimaryKeyConstraint("incident_id", "party", name="pk_incident_parties"),
    )
    op.create_index("ix_incident_parties_party", "incident_parties", ["party"])

    op.create_table(
        "incident_accounts",
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _time("filed_at"),
        _time("amended_at", nullable=True),
        sa.Column("amendment_reason", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        _time("started_at"),
        _time("ended_at"),
        sa.Column("time_precision", sa.String(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("uncertainty_m", sa.Double(), nullable=True),
        sa.Column("place", sa.String(), nullable=True),
        sa.Column("initiator", sa.String(), nullable=False),
        sa.Column("units", sa.JSON(), nullable=False),
        sa.Column("cpa_m", sa.Double(), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("casualties", sa.Integer(), nullable=True),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_incident_accounts_incident_id_incidents"),
        sa.PrimaryKeyConstraint("incident_id", "party", name="pk_incident_accounts"),
    )

    op.create_table(
        "incident_clarifications",
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("clarification_id", sa.String(), nullable=False),
        sa.Column("from_party", sa.String(), nullable=False),
        sa.Column("to_party", sa.String(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        _time("asked_at"),
        sa.Column("answer", sa.Text(), nullable=True),
        _time("answered_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_clarifications_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("incident_id", "clarification_id", name="pk_incident_clarifications"),
    )

    op.create_table(
        "incident_timeline",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        _time("time"),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_incident_timeline_incident_id_incidents"),
        sa.PrimaryKeyConstraint("seq", name="pk_incident_timeline"),
    )
    op.create_index("ix_incident_timeline_incident_id", "incident_timeline", ["incident_id"])

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("officer_id", sa.String(), nullable=True),
        sa.Column("party", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=True),
        _time("created_at"),
        _time("expires_at", nullable=True),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("secret_hash", name="uq_api_tokens_secret_hash"),
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("request_hash", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("event_ids", sa.JSON(), nullable=True),
        sa.Column("aggregate_id", sa.String(), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("api_tokens")
    op.drop_index("ix_incident_timeline_incident_id", table_name="incident_timeline")
    op.drop_table("incident_timeline")
    op.drop_table("incident_clarifications")
    op.drop_table("incident_accounts")
    op.drop_index("ix_incident_parties_party", table_name="incident_parties")
    op.drop_table("incident_parties")
    for name in ("ix_incidents_reported_at_id", "ix_incidents_started_at", "ix_incidents_kind", "ix_incidents_status"):
        op.drop_index(name, table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_officers_id", table_name="officers")
    op.drop_table("officers")
    op.drop_table("parties")
    op.drop_index("ix_events_aggregate_id", table_name="events")
    op.drop_table("events")
    op.drop_table("projection_checkpoints")
