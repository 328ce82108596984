"""bank statements

Revision ID: 20261203_bank_statements
Revises: 20261202_wallets
Create Date: 2026-12-03 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261203_bank_statements'
down_revision = '20261202_wallets'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bank_statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=34), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=False),
    sa.Column('unmatched', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.CheckConstraint("format IN ('camt053', '1c')", name=op.f('ck_bank_statements_format_known')),
    sa.CheckConstraint('entries >= 0 AND matched >= 0 AND unmatched >= 0 AND duplicates >= 0', name=op.f('ck_bank_statements_counts_not_negative')),
    sa.ForeignKeyConstraint(['imported_by'], ['users.id'], name=op.f('fk_bank_statements_imported_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_statements'))
    )
    with op.batch_alter_table('bank_statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_statements_imported_at'), ['imported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_bank_statements_sha256'), ['sha256'], unique=False)

    op.create_table('statement_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=False),
    sa.Column('bank_ref', sa.String(length=255), nullable=True),
    sa.Column('direction', sa.String(length=6), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('booking_date', sa.Date(), nullable=True),
    sa.Column('remittance', sa.Text(), nullable=False),
    sa.Column('references', sa.JSON(), nullable=False),
    sa.Column('end_to_end_id', sa.String(length=64), nullable=True),
    sa.Column('is_return', sa.Boolean(), nullable=False),
    sa.Column('return_reason', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('pledge_id', sa.Integer(), nullable=True),
    sa.Column('withdrawal_id', sa.Integer(), nullable=True),
    sa.Column('matched_by', sa.Integer(), nullable=True),
    sa.Column('matched_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("direction IN ('credit', 'debit')", name=op.f('ck_statement_lines_direction_known')),
    sa.CheckConstraint("status IN ('matched', 'unmatched', 'returned_to_sender')", name=op.f('ck_statement_lines_status_known')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_statement_lines_amount_not_negative')),
    sa.ForeignKeyConstraint(['matched_by'], ['users.id'], name=op.f('fk_statement_lines_matched_by_users')),
    sa.ForeignKeyConstraint(['pledge_id'], ['pledges.id'], name=op.f('fk_statement_lines_pledge_id_pledges')),
    sa.ForeignKeyConstraint(['statement_id'], ['bank_statements.id'], name=op.f('fk_statement_lines_statement_id_bank_statements')),
    sa.ForeignKeyConstraint(['withdrawal_id'], ['withdrawals.id'], name=op.f('fk_statement_lines_withdrawal_id_withdrawals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_lines')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_statement_lines_dedupe_key'))
    )
    with op.batch_alter_table('statement_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_lines_end_to_end_id'), ['end_to_end_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_statement_lines_pledge_id'), ['pledge_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_statement_lines_statement_id'), ['statement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_statement_lines_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_statement_lines_withdrawal_id'), ['withdrawal_id'], unique=False)



def downgrade():
    with op.batch_alter_table('statement_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statement_lines_withdrawal_id'))
        batch_op.drop_index(batch_op.f('ix_statement_lines_status'))
        batch_op.drop_index(batch_op.f('ix_statement_lines_statement_id'))
        batch_op.drop_index(batch_op.f('ix_statement_lines_pledge_id'))
        batch_op.drop_index(batch_op.f('ix_statement_lines_end_to_end_id'))

    op.drop_table('statement_lines')
    with op.batch_alter_table('bank_statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_statements_sha256'))
        batch_op.drop_index(batch_op.f('ix_bank_statements_imported_at'))

    op.drop_table('bank_statements')
