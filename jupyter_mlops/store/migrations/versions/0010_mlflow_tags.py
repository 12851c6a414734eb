"""MLflow compatibility: experiment lifecycle and tags; registered-model and version tags.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

``experiments.lifecycle_stage`` (``active``/``deleted``: a deleted experiment hides from
listings and takes no new runs until restored) and ``experiments.updated_at``;
``experiment_tags``, ``registered_model_tags`` and ``model_version_tags`` (key/value, MLflow's
limits: 250-character keys, 5000-character values); ``model_versions.updated_at`` (a version's
description and tags change; its file never does). Issue 18.
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def _tags(table: str, owner: str, parent: str) -> None:
    op.create_table(
        table,
        sa.Column(owner, sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=250), nullable=False),
        sa.Column('value', sa.String(length=5000), nullable=False),
        sa.ForeignKeyConstraint([owner], [f'{parent}.id'],
                                name=op.f(f'fk_{table}_{owner}_{parent}'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint(owner, 'key', name=op.f(f'pk_{table}')),
    )


def upgrade() -> None:
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lifecycle_stage', sa.String(length=16), nullable=False,
                                      server_default='active'))
        batch_op.add_column(sa.Column('updated_at', sa.Float(), nullable=True))
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.Float(), nullable=True))
    _tags('experiment_tags', 'experiment_id', 'experiments')
    _tags('registered_model_tags', 'model_id', 'registered_models')
    _tags('model_version_tags', 'version_id', 'model_versions')


def downgrade() -> None:
    op.drop_table('model_version_tags')
    op.drop_table('registered_model_tags')
    op.drop_table('experiment_tags')
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+), not batch mode: batch mode rebuilds
    # the table, and on SQLite (foreign keys on) dropping the old experiments table deletes
    # every run through ON DELETE CASCADE (tests/store/test_run_index.py saw it).
    op.drop_column('model_versions', 'updated_at')
    op.drop_column('experiments', 'updated_at')
    op.drop_column('experiments', 'lifecycle_stage')
