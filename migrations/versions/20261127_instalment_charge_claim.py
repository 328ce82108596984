"""instalment charge claim: charge_key, charge_payment_method, charge_started_at

``loans.services.pay_instalment`` no longer holds the instalment's row lock across the
gateway call: it claims the payment (these columns, by a conditional UPDATE), commits,
charges, and records the outcome under a fresh lock. A claim left behind by a crash is
re-driven with its own key and payment method, so the owner is never charged twice.

Revision ID: 20261127_instalment_charge_claim
Revises: 20261126_campaign_browse_indexes
Create Date: 2026-11-27 12:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '20261127_instalment_charge_claim'
down_revision = '20261126_campaign_browse_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('instalments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('charge_key', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('charge_payment_method', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('charge_started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f('ck_instalments_charge_claim_complete'),
            'charge_key IS NULL OR charge_payment_method IS NOT NULL')


def downgrade():
    with op.batch_alter_table('instalments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_instalments_charge_claim_complete'), type_='check')
        batch_op.drop_column('charge_started_at')
        batch_op.drop_column('charge_payment_method')
        batch_op.drop_column('charge_key')
