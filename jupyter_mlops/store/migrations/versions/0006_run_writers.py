"""Attached writers of a run: ``run_writers``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

A run belongs to the process that started it (``runs.writer``). Before this revision,
``attach_run`` from another process overwrote that owner, so when the attached process
exited the run was reaped as KILLED while its owner was still logging. Attached processes
are now listed here instead, and the owner column is left alone.
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'run_writers',
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('writer', sa.String(length=256), nullable=False),
        sa.Column('attached_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_writers_run_id_runs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'writer', name=op.f('pk_run_writers')),
    )


def downgrade() -> None:
    op.drop_table('run_writers')
