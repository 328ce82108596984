"""investor_profiles.classified_at: when the classification was decided, so a sophisticated
status lapses after its 2-year review period; backfilled from the latest investor.classified
audit entry, else the profile's last change

Revision ID: 20261208_classified_at
Revises: 20261207_identity_documents
Create Date: 2026-12-04 18:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261208_classified_at'
down_revision = '20261207_identity_documents'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('investor_profiles') as batch:
        batch.add_column(sa.Column('classified_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("""
        UPDATE investor_profiles SET classified_at = COALESCE(
            (SELECT MAX(a.created_at) FROM audit_log a
              WHERE a.action = 'investor.classified' AND a.subject_type = 'investor_profile'
                AND a.subject_id = CAST(investor_profiles.id AS VARCHAR(40))),
            updated_at)
        WHERE classification IN ('sophisticated', 'qualified')
    """)


def downgrade():
    with op.batch_alter_table('investor_profiles') as batch:
        batch.drop_column('classified_at')
