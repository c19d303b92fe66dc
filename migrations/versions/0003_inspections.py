"""Inspections, evaluation visits and overflights (one row per visit, with every clock and step
time), activity notifications and units reports, and their recipients.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table('inspections',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('agreement_id', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('requesting_party', sa.String(), nullable=False),
    sa.Column('receiving_party', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('quota_year', sa.Integer(), nullable=False),
    sa.Column('terms_version', sa.Integer(), nullable=False),
    sa.Column('point_of_entry', sa.Text(), nullable=False),
    sa.Column('expected_arrival', sa.DateTime(timezone=True), nullable=False),
    sa.Column('team_size', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reply_due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entry_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notice_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notice_late', sa.Boolean(), nullable=False),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reply_late', sa.Boolean(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refusal_ground', sa.String(), nullable=True),
    sa.Column('refusal_text', sa.Text(), nullable=True),
    sa.Column('ground_held', sa.Boolean(), nullable=True),
    sa.Column('unsubstantiated', sa.Boolean(), nullable=False),
    sa.Column('reply_quota', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('entry_late', sa.Boolean(), nullable=True),
    sa.Column('arrival_overdue', sa.Boolean(), nullable=False),
    sa.Column('plan_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('plan_agreed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completion_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completion_late', sa.Boolean(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('commented_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('prohibited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reasons_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reasons_given_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('prevented_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notice_missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reply_missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('entry_missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flight_plan_missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reasons_missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections'))
    )
    op.create_index(op.f('ix_inspections_receiving_party_quota_year'), 'inspections', ['receiving_party', 'quota_year'], unique=False)
    op.create_index(op.f('ix_inspections_requesting_party'), 'inspections', ['requesting_party'], unique=False)
    op.create_index(op.f('ix_inspections_status'), 'inspections', ['status'], unique=False)
    op.create_table('notification_recipients',
    sa.Column('notification_id', sa.String(), nullable=False),
    sa.Column('party', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('notification_id', 'party', name=op.f('pk_notification_recipients'))
    )
    op.create_index(op.f('ix_notification_recipients_party'), 'notification_recipients', ['party'], unique=False)
    op.create_table('notifications',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('agreement_id', sa.String(), nullable=False),
    sa.Column('party', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('terms_version', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('area', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('scale', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('notifiable', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('lead_seconds', sa.BigInteger(), nullable=True),
    sa.Column('required_lead_seconds', sa.BigInteger(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('units', sa.Integer(), nullable=True),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    op.create_index(op.f('ix_notifications_party_kind_year'), 'notifications', ['party', 'kind', 'year'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_notifications_party_kind_year'), table_name='notifications')
    op.drop_table('notifications')
    op.drop_index(op.f('ix_notification_recipients_party'), table_name='notification_recipients')
    op.drop_table('notification_recipients')
    op.drop_index(op.f('ix_inspections_status'), table_name='inspections')
    op.drop_index(op.f('ix_inspections_requesting_party'), table_name='inspections')
    op.drop_index(op.f('ix_inspections_receiving_party_quota_year'), table_name='inspections')
    op.drop_table('inspections')
