"""Identity documents the investor uploads for the operator's identity check

Revision ID: 20261207_identity_documents
Revises: 20261206_offer_cap_entities
Create Date: 2026-12-04 18:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261207_identity_documents'
down_revision = '20261206_offer_cap_entities'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'identity_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('original_filename', sa.String(length=255), nullable=False),
        sa.Column('storage_name', sa.String(length=64), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('passport', 'id_card', 'residence_permit', 'driving_licence', "
                           "'proof_of_address')", name=op.f('ck_identity_documents_kind_known')),
        sa.CheckConstraint("content_type IN ('application/pdf', 'image/jpeg', 'image/png')",
                           name=op.f('ck_identity_documents_content_type_known')),
        sa.CheckConstraint('size_bytes > 0', name=op.f('ck_identity_documents_size_positive')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_identity_documents_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_documents')),
        sa.UniqueConstraint('storage_name', name=op.f('uq_identity_documents_storage_name')),
    )
    op.create_index(op.f('ix_identity_documents_user_id'), 'identity_documents', ['user_id'])


def downgrade():
    op.drop_index(op.f('ix_identity_documents_user_id'), table_name='identity_documents')
    op.drop_table('identity_documents')
