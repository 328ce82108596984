"""audit log hash chain: seq, prev_hash, entry_hash; backfills existing entries

Pre-existing entries are chained in id order (they are all committed, so id order is
the order they were written in), starting from the genesis hash, exactly as
``app.core.audit.seal`` would have chained them. After this revision every row has a
``seq``; new rows get theirs when the transaction that writes them commits.

The canonical serialisation is copied here on purpose (revisions import no app code);
it is the one in ``app.core.audit.canonical`` and must never change for stored rows.

Revision ID: 20261125_audit_chain
Revises: 20261125_loans
Create Date: 2026-11-25 09:00:00

"""
import hashlib
import json
from datetime import timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261125_audit_chain'
down_revision = '20261125_loans'
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
CHAIN_LOCK_ID = 0x47524155444954
BATCH = 1000

audit_log = sa.table(
    'audit_log',
    sa.column('id', sa.BigInteger()),
    sa.column('created_at', sa.DateTime(timezone=True)),
    sa.column('actor_id', sa.Integer()),
    sa.column('action', sa.String()),
    sa.column('subject_type', sa.String()),
    sa.column('subject_id', sa.String()),
    sa.column('ip_address', sa.String()),
    sa.column('details', sa.JSON()),
    sa.column('seq', sa.BigInteger()),
    sa.column('prev_hash', sa.String()),
    sa.column('entry_hash', sa.String()),
)


def _digest(prev_hash, row):
    created_at = row['created_at']
    if created_at is not None:
        created_at = (created_at.replace(tzinfo=timezone.utc) if created_at.tzinfo is None
                      else created_at.astimezone(timezone.utc)).isoformat(timespec='microseconds')
    values = [prev_hash, created_at, row['actor_id'], row['action'], row['subject_type'], row['subject_id'],
              row['ip_address'], row['details'] if row['details'] is not None else {}]
    data = json.dumps(values, sort_keys=True, separators=(',', ':'), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(data.encode('utf-8')).hexdigest()


def upgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_seq'), ['seq'])

    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        bind.execute(sa.text('SELECT pg_advisory_xact_lock(:key)'), {'key': CHAIN_LOCK_ID})
    seq, prev, last_id = 0, GENESIS_HASH, 0
    while True:
        rows = bind.execute(
            sa.select(audit_log).where(audit_log.c.id > last_id).order_by(audit_log.c.id).limit(BATCH)
        ).mappings().all()
        if not rows:
            break
        for row in rows:
            seq += 1
            digest = _digest(prev, row)
            bind.execute(audit_log.update().where(audit_log.c.id == row['id'])
                         .values(seq=seq, prev_hash=prev, entry_hash=digest))
            prev = digest
        last_id = rows[-1]['id']


def downgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_log_seq'), type_='unique')
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
