"""complaints (ECSP Art. 7): filed, acknowledged with a deadline, decided once

Revision ID: 20261204_complaints
Revises: 20261204_api_tokens
Create Date: 2026-12-03 17:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '20261204_complaints'
down_revision = '20261204_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'complaints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=20), nullable=True),
        sa.Column('complainant_id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('pledge_id', sa.Integer(), nullable=True),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('respond_by', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decision', sa.String(length=20), nullable=True),
        sa.Column('response', sa.Text(), nullable=True),
        sa.Column('responded_by_id', sa.Integer(), nullable=True),
        sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('received', 'resolved')", name=op.f('ck_complaints_status_known')),
        sa.CheckConstraint("decision IN ('upheld', 'rejected')", name=op.f('ck_complaints_decision_known')),
        sa.ForeignKeyConstraint(['complainant_id'], ['users.id'], name=op.f('fk_complaints_complainant_id_users')),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_complaints_campaign_id_campaigns')),
        sa.ForeignKeyConstraint(['pledge_id'], ['pledges.id'], name=op.f('fk_complaints_pledge_id_pledges')),
        sa.ForeignKeyConstraint(['responded_by_id'], ['users.id'], name=op.f('fk_complaints_responded_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
        sa.UniqueConstraint('reference', name=op.f('uq_complaints_reference')),
    )
    op.create_index(op.f('ix_complaints_complainant_id'), 'complaints', ['complainant_id'], unique=False)
    op.create_index(op.f('ix_complaints_status'), 'complaints', ['status'], unique=False)
    op.create_index(op.f('ix_complaints_respond_by'), 'complaints', ['respond_by'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_complaints_respond_by'), table_name='complaints')
    op.drop_index(op.f('ix_complaints_status'), table_name='complaints')
    op.drop_index(op.f('ix_complaints_complainant_id'), table_name='complaints')
    op.drop_table('complaints')
