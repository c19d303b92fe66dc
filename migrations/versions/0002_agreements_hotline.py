"""Agreements (parties, contacts, terms versions) and the hotline: messages, check calls, call and
explanation requests, the live feed, and the generic aggregate-state store.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table('aggregate_states',
    sa.Column('aggtype', sa.String(), nullable=False),
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('state', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('aggtype', 'id', name=op.f('pk_aggregate_states'))
    )
    op.create_table('agreement_parties',
    sa.Column('agreement_id', sa.String(), nullable=False),
    sa.Column('party', sa.String(), nullable=False),
    sa.Column('primary_contact', sa.String(), nullable=True),
    sa.Column('alternate_contact', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('agreement_id', 'party', name=op.f('pk_agreement_parties'))
    )
    op.create_index(op.f('ix_agreement_parties_party'), 'agreement_parties', ['party'], unique=False)
    op.create_table('agreement_terms',
    sa.Column('agreement_id', sa.String(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('terms', sa.JSON(none_as_null=True), nullable=False),
    sa.PrimaryKeyConstraint('agreement_id', 'version', name=op.f('pk_agreement_terms'))
    )
    op.create_table('agreements',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('parties', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('concluded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('terms_version', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreements'))
    )
    op.create_table('check_calls',
    sa.Column('slot_id', sa.String(), nullable=False),
    sa.Column('party', sa.String(), nullable=False),
    sa.Column('agreement_id', sa.String(), nullable=False),
    sa.Column('slot_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('caller', sa.String(), nullable=False),
    sa.Column('terms_version', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('slot_id', 'party', name=op.f('pk_check_calls'))
    )
    op.create_index(op.f('ix_check_calls_agreement_id_party_slot_start'), 'check_calls', ['agreement_id', 'party', 'slot_start'], unique=False)
    op.create_table('hotline_feed',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.String(), nullable=False),
    sa.Column('type', sa.String(), nullable=False),
    sa.Column('aggtype', sa.String(), nullable=False),
    sa.Column('aggregate_id', sa.String(), nullable=False),
    sa.Column('agreement_id', sa.String(), nullable=False),
    sa.Column('from_party', sa.String(), nullable=True),
    sa.Column('to_party', sa.String(), nullable=True),
    sa.Column('notify', sa.String(), nullable=True),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('party', sa.String(), nullable=False),
    sa.Column('data', sa.JSON(none_as_null=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_hotline_feed'))
    )
    op.create_index(op.f('ix_hotline_feed_from_party_seq'), 'hotline_feed', ['from_party', 'seq'], unique=False)
    op.create_index(op.f('ix_hotline_feed_to_party_seq'), 'hotline_feed', ['to_party', 'seq'], unique=False)
    op.create_table('hotline_messages',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('agreement_id', sa.String(), nullable=False),
    sa.Column('from_party', sa.String(), nullable=False),
    sa.Column('to_party', sa.String(), nullable=False),
    sa.Column('precedence', sa.String(), nullable=False),
    sa.Column('subject', sa.String(), nullable=False),
    sa.Column('in_reply_to', sa.String(), nullable=True),
    sa.Column('answer_required', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('terms_version', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ack_due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answer_due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ack_late', sa.Boolean(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer_late', sa.Boolean(), nullable=True),
    sa.Column('ack_missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer_missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_to', sa.String(), nullable=True),
    sa.Column('sent_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hotline_messages'))
    )
    op.create_index(op.f('ix_hotline_messages_ack_due'), 'hotline_messages', ['ack_due'], unique=False)
    op.create_index(op.f('ix_hotline_messages_from_party_sent_seq'), 'hotline_messages', ['from_party', 'sent_seq'], unique=False)
    op.create_index(op.f('ix_hotline_messages_to_party_sent_seq'), 'hotline_messages', ['to_party', 'sent_seq'], unique=False)
    op.create_table('hotline_requests',
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('agreement_id', sa.String(), nullable=False),
    sa.Column('from_party', sa.String(), nullable=False),
    sa.Column('to_party', sa.String(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('terms_version', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_late', sa.Boolean(), nullable=True),
    sa.Column('no_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('meeting_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('meeting_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('meeting_held_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('meeting_late', sa.Boolean(), nullable=True),
    sa.Column('meeting_missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('incident_id', sa.String(), nullable=True),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'id', name=op.f('pk_hotline_requests'))
    )
    op.create_index(op.f('ix_hotline_requests_due'), 'hotline_requests', ['due'], unique=False)


def downgrade() -> None:
    op.drop_table('hotline_requests')
    op.drop_table('hotline_messages')
    op.drop_table('hotline_feed')
    op.drop_table('check_calls')
    op.drop_table('agreements')
    op.drop_table('agreement_terms')
    op.drop_table('agreement_parties')
    op.drop_table('aggregate_states')
