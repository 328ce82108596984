"""repayment mandates: the owner's saved payment method per campaign, the paying charge key
and the day of the last collection attempt per instalment

Revision ID: 20261203_repayment_mandates
Revises: 20261203_bank_statements
Create Date: 2026-12-03 12:40:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '20261203_repayment_mandates'
down_revision = '20261203_bank_statements'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('repayment_mandate', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('repayment_mandate_set_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('instalments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paid_key', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('collection_attempted_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('instalments', schema=None) as batch_op:
        batch_op.drop_column('collection_attempted_on')
        batch_op.drop_column('paid_key')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('repayment_mandate_set_at')
        batch_op.drop_column('repayment_mandate')
