"""Offline-first sync: ``store_identity``, ``sync_marks`` and ``sync_origins``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

``store_identity`` holds this store's own id (one row, written here), so two stores tell each
other apart and a sync to itself is refused. ``sync_marks`` records, per peer store, how far a
sync got: in a source what it pushed to each target (written after the target committed), in
a target what it received from each source (written in the same transaction as the rows:
the record a rerun trusts after a kill between the two), plus the agreed target of every
registry alias (the base a conflict is judged against). ``sync_origins`` names, for every run
that arrived by sync, the store that created it (its owner). See :mod:`jupyter_mlops.store.sync`.
"""
import time
import uuid

from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    identity = op.create_table(
        'store_identity',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_store_identity')),
    )
    op.create_table(
        'sync_marks',
        sa.Column('peer', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('position', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('peer', 'name', name=op.f('pk_sync_marks')),
    )
    op.create_table(
        'sync_origins',
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('peer', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('run_id', name=op.f('pk_sync_origins')),
    )
    op.bulk_insert(identity, [{'id': uuid.uuid4().hex, 'created_at': time.time()}])


def downgrade() -> None:
    op.drop_table('sync_origins')
    op.drop_table('sync_marks')
    op.drop_table('store_identity')
