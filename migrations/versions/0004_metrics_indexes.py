"""Indexes for the metrics' windows (adapters/sql/metrics_source.py): a dyad's or a party's
messages and requests by sending time, activity notifications by time, and incident timelines by
incident and time (whether an incident has rows in a window), so a windowed figure reads the
window's rows and not the whole history. Two single-column indexes become the leading column of
a wider one: incident_timeline (incident_id) → (incident_id, time), incident_parties (party) →
(party, incident_id).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_index(op.f('ix_hotline_messages_to_party_from_party_sent_at'), 'hotline_messages', ['to_party', 'from_party', 'sent_at'], unique=False)
    op.create_index(op.f('ix_hotline_messages_from_party_sent_at'), 'hotline_messages', ['from_party', 'sent_at'], unique=False)
    op.create_index(op.f('ix_hotline_requests_to_party_from_party_requested_at'), 'hotline_requests', ['to_party', 'from_party', 'requested_at'], unique=False)
    op.create_index(op.f('ix_hotline_requests_from_party_requested_at'), 'hotline_requests', ['from_party', 'requested_at'], unique=False)
    op.create_index(op.f('ix_notifications_notified_at'), 'notifications', ['notified_at'], unique=False)
    op.create_index(op.f('ix_incident_timeline_incident_id_time'), 'incident_timeline', ['incident_id', 'time'], unique=False)
    op.create_index(op.f('ix_incident_timeline_time_incident_id'), 'incident_timeline', ['time', 'incident_id'], unique=False)
    op.drop_index('ix_incident_timeline_incident_id', table_name='incident_timeline')
    op.create_index(op.f('ix_incident_parties_party_incident_id'), 'incident_parties', ['party', 'incident_id'], unique=False)
    op.drop_index('ix_incident_parties_party', table_name='incident_parties')


def downgrade() -> None:
    op.create_index('ix_incident_parties_party', 'incident_parties', ['party'], unique=False)
    op.drop_index(op.f('ix_incident_parties_party_incident_id'), table_name='incident_parties')
    op.create_index('ix_incident_timeline_incident_id', 'incident_timeline', ['incident_id'], unique=False)
    op.drop_index(op.f('ix_incident_timeline_time_incident_id'), table_name='incident_timeline')
    op.drop_index(op.f('ix_incident_timeline_incident_id_time'), table_name='incident_timeline')
    op.drop_index(op.f('ix_notifications_notified_at'), table_name='notifications')
    op.drop_index(op.f('ix_hotline_requests_from_party_requested_at'), table_name='hotline_requests')
    op.drop_index(op.f('ix_hotline_requests_to_party_from_party_requested_at'), table_name='hotline_requests')
    op.drop_index(op.f('ix_hotline_messages_from_party_sent_at'), table_name='hotline_messages')
    op.drop_index(op.f('ix_hotline_messages_to_party_from_party_sent_at'), table_name='hotline_messages')
