"""The raiser's legal entity on each campaign, and exchange rates for the offer cap

Revision ID: 20261206_offer_cap_entities
Revises: 20261205_kiis_translations
Create Date: 2026-12-04 14:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '20261206_offer_cap_entities'
down_revision = '20261205_kiis_translations'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'exchange_rates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('base', sa.String(length=3), nullable=False),
        sa.Column('quote', sa.String(length=3), nullable=False),
        sa.Column('on', sa.Date(), nullable=False),
        sa.Column('rate_micro', sa.BigInteger(), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('rate_micro > 0', name=op.f('ck_exchange_rates_rate_positive')),
        sa.CheckConstraint('base <> quote', name=op.f('ck_exchange_rates_two_currencies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_rates')),
        sa.UniqueConstraint('base', 'quote', 'on', name='pair_day'),
    )
    with op.batch_alter_table('campaigns') as batch:
        batch.add_column(sa.Column('owner_legal_form', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('owner_legal_name', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('owner_registration_country', sa.String(length=2), nullable=True))
        batch.add_column(sa.Column('owner_registration_number', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('cap_rate_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_campaigns_cap_rate_id_exchange_rates'), 'exchange_rates',
                                 ['cap_rate_id'], ['id'])
        batch.create_check_constraint(
            op.f('ck_campaigns_owner_legal_form_known'),
            "owner_legal_form IS NULL OR owner_legal_form IN ('company', 'sole_proprietor')")
        batch.create_index('ix_campaigns_owner_registration',
                           ['owner_registration_country', 'owner_registration_number'])


def downgrade():
    with op.batch_alter_table('campaigns') as batch:
        batch.drop_index('ix_campaigns_owner_registration')
        batch.drop_constraint(op.f('ck_campaigns_owner_legal_form_known'), type_='check')
        batch.drop_constraint(op.f('fk_campaigns_cap_rate_id_exchange_rates'), type_='foreignkey')
        for name in ('cap_rate_id', 'owner_registration_number', 'owner_registration_country',
                     'owner_legal_name', 'owner_legal_form'):
            batch.drop_column(name)
    op.drop_table('exchange_rates')
