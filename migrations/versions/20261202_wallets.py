"""wallets: bank accounts, withdrawals and their payment files (pain.001)

Revision ID: 20261202_wallets
Revises: 20261201_user_locale
Create Date: 2026-12-02 12:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '20261202_wallets'
down_revision = '20261201_user_locale'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'bank_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_type', sa.String(length=10), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('holder_name', sa.String(length=140), nullable=False),
        sa.Column('iban', sa.String(length=34), nullable=False),
        sa.Column('bic', sa.String(length=11), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("owner_type IN ('user', 'fund')", name=op.f('ck_bank_accounts_owner_type_known')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_accounts')),
        sa.UniqueConstraint('owner_type', 'owner_id', name='uq_bank_accounts_owner'),
    )
    op.create_table(
        'withdrawal_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('total', sa.BigInteger(), nullable=False),
        sa.Column('message_id', sa.String(length=35), nullable=False),
        sa.Column('xml', sa.LargeBinary(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('count > 0 AND total > 0', name=op.f('ck_withdrawal_batches_not_empty')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_withdrawal_batches_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_withdrawal_batches')),
        sa.UniqueConstraint('message_id', name=op.f('uq_withdrawal_batches_message_id')),
    )
    op.create_table(
        'withdrawals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('investor_id', sa.Integer(), nullable=False),
        sa.Column('fund_id', sa.Integer(), nullable=True),
        sa.Column('owner_type', sa.String(length=10), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('holder_name', sa.String(length=140), nullable=False),
        sa.Column('iban', sa.String(length=34), nullable=False),
        sa.Column('bic', sa.String(length=11), nullable=True),
        sa.Column('end_to_end_id', sa.String(length=35), nullable=True),
        sa.Column('batch_id', sa.Integer(), nullable=True),
        sa.Column('idempotency_key', sa.String(length=255), nullable=True),
        sa.Column('request_hash', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('return_reason', sa.String(length=200), nullable=True),
        sa.CheckConstraint('amount > 0', name=op.f('ck_withdrawals_amount_positive')),
        sa.CheckConstraint("status IN ('requested', 'sent', 'paid', 'returned')",
                           name=op.f('ck_withdrawals_status_known')),
        sa.CheckConstraint("owner_type IN ('user', 'fund')", name=op.f('ck_withdrawals_owner_type_known')),
        sa.ForeignKeyConstraint(['investor_id'], ['users.id'], name=op.f('fk_withdrawals_investor_id_users')),
        sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_withdrawals_fund_id_funds')),
        sa.ForeignKeyConstraint(['batch_id'], ['withdrawal_batches.id'],
                                name=op.f('fk_withdrawals_batch_id_withdrawal_batches')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_withdrawals')),
        sa.UniqueConstraint('end_to_end_id', name=op.f('uq_withdrawals_end_to_end_id')),
        sa.UniqueConstraint('investor_id', 'idempotency_key', name='uq_withdrawals_investor_key'),
    )
    with op.batch_alter_table('withdrawals', schema=None) as batch_op:
        for column in ('investor_id', 'fund_id', 'owner_id', 'status', 'batch_id'):
            batch_op.create_index(batch_op.f(f'ix_withdrawals_{column}'), [column], unique=False)


def downgrade():
    with op.batch_alter_table('withdrawals', schema=None) as batch_op:
        for column in ('investor_id', 'fund_id', 'owner_id', 'status', 'batch_id'):
            batch_op.drop_index(batch_op.f(f'ix_withdrawals_{column}'))
    op.drop_table('withdrawals')
    op.drop_table('withdrawal_batches')
    op.drop_table('bank_accounts')
