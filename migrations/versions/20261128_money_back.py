"""money back: bank_clearing and withdrawals_pending ledger accounts; bank-transfer pledges

The wallet is the investor_funds account (available) and withdrawals_pending (reserved);
bank transfers arrive in, and withdrawals leave from, bank_clearing. A bank-transfer pledge
carries its RF reference and the time it expires unpaid.

Revision ID: 20261128_money_back
Revises: 20261127_instalment_charge_claim
Create Date: 2026-11-28 12:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '20261128_money_back'
down_revision = '20261127_instalment_charge_claim'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('gateway_clearing', 'investor_funds', 'campaign_escrow', 'owner_payable', 'platform_fees')"
NEW_KINDS = ("kind IN ('gateway_clearing', 'bank_clearing', 'investor_funds', 'withdrawals_pending', "
             "'campaign_escrow', 'owner_payable', 'platform_fees')")


def upgrade():
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ledger_accounts_kind_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_ledger_accounts_kind_known'), NEW_KINDS)
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_reference', sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column('pay_by', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_pledges_payment_reference'), ['payment_reference'])


def downgrade():
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_pledges_payment_reference'), type_='unique')
        batch_op.drop_column('pay_by')
        batch_op.drop_column('payment_reference')
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ledger_accounts_kind_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_ledger_accounts_kind_known'), OLD_KINDS)
