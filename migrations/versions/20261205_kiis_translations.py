"""KIIS versions rendered in the deployment's other languages

Revision ID: 20261205_kiis_translations
Revises: 20261204_expected_defaults
Create Date: 2026-12-04 09:20:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '20261205_kiis_translations'
down_revision = '20261204_expected_defaults'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'kiis_translations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kiis_version_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('pdf_bytes', sa.LargeBinary(), nullable=False),
        sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['kiis_version_id'], ['kiis_versions.id'], ondelete='CASCADE',
                                name=op.f('fk_kiis_translations_kiis_version_id_kiis_versions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_kiis_translations')),
        sa.UniqueConstraint('kiis_version_id', 'language', name='version_language'),
    )


def downgrade():
    op.drop_table('kiis_translations')
