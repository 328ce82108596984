"""payment webhook events, one row per provider event id

Revision ID: 20261125_webhooks
Revises: 20261125_payments
Create Date: 2026-11-25 05:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261125_webhooks'
down_revision = '20261125_payments'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('reference', sa.String(length=255), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('provider', 'event_id', name=op.f('uq_webhook_events_provider_event_id'))
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_events_reference'), ['reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_events_type'), ['type'], unique=False)


def downgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_events_type'))
        batch_op.drop_index(batch_op.f('ix_webhook_events_reference'))

    op.drop_table('webhook_events')
