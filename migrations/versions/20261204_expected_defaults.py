"""expected default rates per risk class, set by the operator (ECSP Art. 20)

Revision ID: 20261204_expected_defaults
Revises: 20261204_complaints
Create Date: 2026-12-03 17:10:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '20261204_expected_defaults'
down_revision = '20261204_complaints'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'expected_default_rates',
        sa.Column('risk_class', sa.String(length=1), nullable=False),
        sa.Column('expected_default_rate_bps', sa.Integer(), nullable=False),
        sa.Column('assumptions', sa.Text(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('expected_default_rate_bps BETWEEN 0 AND 10000',
                           name=op.f('ck_expected_default_rates_rate_in_range')),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'],
                                name=op.f('fk_expected_default_rates_updated_by_id_users')),
        sa.PrimaryKeyConstraint('risk_class', name=op.f('pk_expected_default_rates')),
    )


def downgrade():
    op.drop_table('expected_default_rates')
