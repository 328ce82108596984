"""portfolio running totals: pledge_repayments, repayment_days; backfilled from instalment_shares

``loans.services.receive`` keeps both tables in step with ``instalment_shares`` from this
revision on; existing shares are summed into them here (the same sums as
``app.loans.services.rebuild_repayment_totals``, written out because revisions import no
app code). Days are UTC calendar days.

Revision ID: 20261125_portfolio_totals
Revises: 20261125_audit_chain
Create Date: 2026-11-25 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261125_portfolio_totals'
down_revision = '20261125_audit_chain'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pledge_repayments',
    sa.Column('pledge_id', sa.Integer(), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.Column('interest', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('principal >= 0 AND interest >= 0', name=op.f('ck_pledge_repayments_parts_not_negative')),
    sa.ForeignKeyConstraint(['pledge_id'], ['pledges.id'], name=op.f('fk_pledge_repayments_pledge_id_pledges')),
    sa.PrimaryKeyConstraint('pledge_id', name=op.f('pk_pledge_repayments'))
    )
    op.create_table('repayment_days',
    sa.Column('owner_type', sa.String(length=8), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.Column('interest', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("owner_type IN ('investor', 'fund')", name=op.f('ck_repayment_days_owner_type_known')),
    sa.CheckConstraint('principal >= 0 AND interest >= 0', name=op.f('ck_repayment_days_parts_not_negative')),
    sa.PrimaryKeyConstraint('owner_type', 'owner_id', 'day', 'currency', name=op.f('pk_repayment_days'))
    )

    bind = op.get_bind()
    day = ("date(timezone('UTC', paid_at))" if bind.dialect.name == 'postgresql' else 'date(paid_at)')
    bind.execute(sa.text(
        'INSERT INTO pledge_repayments (pledge_id, principal, interest) '
        'SELECT pledge_id, sum(principal), sum(interest) FROM instalment_shares GROUP BY pledge_id'))
    bind.execute(sa.text(
        'INSERT INTO repayment_days (owner_type, owner_id, day, currency, principal, interest) '
        'SELECT owner_type, owner_id, day, currency, sum(principal), sum(interest) FROM ('
        f"  SELECT 'fund' AS owner_type, fund_id AS owner_id, {day} AS day, currency, principal, interest"
        '  FROM instalment_shares WHERE fund_id IS NOT NULL'
        '  UNION ALL'
        f"  SELECT 'investor', investor_id, {day}, currency, principal, interest"
        '  FROM instalment_shares WHERE fund_id IS NULL'
        ') AS shares GROUP BY owner_type, owner_id, day, currency'))


def downgrade():
    op.drop_table('repayment_days')
    op.drop_table('pledge_repayments')
