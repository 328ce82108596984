"""campaign browsing indexes: (status, closes_at, id) and (status, category, closes_at, id)

The filtered list (``status=…&category=…``, closing soonest first) used to read every
matching campaign, join its owner and sort them all for a page of 20; with these indexes
it reads the page in index order and counts the matches from the index alone. The
single-column ``ix_campaigns_status`` is a prefix of the first one and goes.

Revision ID: 20261126_campaign_browse_indexes
Revises: 20261125_portfolio_totals
Create Date: 2026-11-26 12:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '20261126_campaign_browse_indexes'
down_revision = '20261125_portfolio_totals'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index('ix_campaigns_status_closes_at', ['status', 'closes_at', 'id'], unique=False)
        batch_op.create_index('ix_campaigns_status_category_closes_at', ['status', 'category', 'closes_at', 'id'],
                              unique=False)
        batch_op.drop_index(batch_op.f('ix_campaigns_status'))


def downgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_status'), ['status'], unique=False)
        batch_op.drop_index('ix_campaigns_status_category_closes_at')
        batch_op.drop_index('ix_campaigns_status_closes_at')
